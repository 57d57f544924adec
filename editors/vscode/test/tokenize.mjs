// Prints the TextMate tokens of .rill files as JSON, as VS Code's own tokenizer
// (vscode-textmate on the Oniguruma regex engine) finds them with syntaxes/rill.tmLanguage.json.
//
//   node test/tokenize.mjs FILE...
//
// Output: {"FILE": [{"line": 0, "start": 0, "text": "param", "scopes": ["source.rill", ...]}]}
// with 0-based lines and columns; tests/editors/test_textmate.py reads it.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import oniguruma from "vscode-oniguruma";
import textmate from "vscode-textmate";

const here = dirname(fileURLToPath(import.meta.url));
const grammarPath = join(here, "..", "syntaxes", "rill.tmLanguage.json");

async function loadGrammar() {
  const wasmPath = createRequire(import.meta.url).resolve("vscode-oniguruma/release/onig.wasm");
  await oniguruma.loadWASM((await readFile(wasmPath)).buffer);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.rill"
        ? textmate.parseRawGrammar(await readFile(grammarPath, "utf8"), grammarPath)
        : null,
  });
  return registry.loadGrammar("source.rill");
}

function tokenize(grammar, text) {
  const tokens = [];
  let state = textmate.INITIAL;
  text.split(/\r?\n/).forEach((line, lineNumber) => {
    const result = grammar.tokenizeLine(line, state);
    for (const token of result.tokens) {
      const tokenText = line.slice(token.startIndex, token.endIndex);
      if (tokenText.length > 0) {
        tokens.push({ line: lineNumber, start: token.startIndex, text: tokenText, scopes: token.scopes });
      }
    }
    state = result.ruleStack;
  });
  return tokens;
}

const grammar = await loadGrammar();
const output = {};
for (const path of process.argv.slice(2)) {
  output[path] = tokenize(grammar, await readFile(path, "utf8"));
}
process.stdout.write(JSON.stringify(output));
