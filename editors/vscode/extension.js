// The rillet extension: colours come from syntaxes/rill.tmLanguage.json (declared in
// package.json); this file only starts the language server, `rillet lsp`, over stdio, with the
// command taken from the `rillet.path` setting, and restarts it when that setting changes.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function createClient() {
  const command = vscode.workspace.getConfiguration("rillet").get("path", "rillet");
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  return new LanguageClient(
    "rillet",
    "rillet language server",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "rill" },
        { scheme: "untitled", language: "rill" },
      ],
    },
  );
}

async function start() {
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    const command = vscode.workspace.getConfiguration("rillet").get("path", "rillet");
    vscode.window.showErrorMessage(
      `rillet: could not start \`${command} lsp\` (${error.message}); ` +
        "install rillet with `pip install 'rillet[lsp]'` or set `rillet.path` to its command",
    );
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("rillet.path")) {
        await deactivate();
        await start();
      }
    }),
  );
  await start();
}

async function deactivate() {
  if (client !== undefined) {
    const running = client;
    client = undefined;
    if (running.isRunning()) {
      await running.stop();
    }
  }
}

module.exports = { activate, deactivate };
