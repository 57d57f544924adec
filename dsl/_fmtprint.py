"""The formatter's printer: a concrete syntax tree (every token kept) and the gaps between its
tokens in, lines out. It walks the tree once; each grammar rule with a layout of its own has a
method, and every other rule writes its parts one space apart. `fmt.py` says what the layout is
and checks the result; `_fmtlines.py` keeps the lines.
"""

from __future__ import annotations

from collections.abc import Callable

from lark import Token, Tree

from ._fmtlines import Lines
from ._trivia import NO_GAP, Gap, gaps

WIDTH = 100  # the columns a bracketed list may fill before it is split, one item per line
INDENT = 2

Node = Tree[Token] | Token | None
_NO_SPACE_BEFORE = {"COMMA", "COLON", "OPTIONAL", "RPAR", "RSQB"}
# rules whose parts are written without spaces: `a.b`, `a["k"]`, `(x)`, `-x`, `list[int]?`
_TIGHT = {"attr", "index", "atom", "neg", "dotted_name", "type_expr", "keyword_arg"}
_CALLS = {"call", "connector_call", "plugin_op"}


def significant_tokens(tree: Tree[Token]) -> list[Token]:
    """The tokens in text order, without the newlines that end statements (comment lines hide
    in those: they belong to the gaps)."""
    return [t for t in tree.scan_values(lambda v: isinstance(v, Token)) if t.type != "_NL"]


def _parts(node: Tree[Token]) -> list[Tree[Token] | Token]:
    """A node's children without lark's placeholders for absent optional parts and `_NL`s."""
    return [c for c in node.children if c is not None and not _is(c, "_NL")]


def _is(node: Node, kind: str) -> bool:
    return isinstance(node, Token) and node.type == kind


_Items = list[tuple[Tree[Token] | Token, Token | None]]


def _items(parts: list[Tree[Token] | Token]) -> _Items:
    """The items of a bracketed list, each with the comma written after it (if any)."""
    items: _Items = []
    for part in parts:
        if isinstance(part, Token) and part.type == "COMMA":
            items[-1] = (items[-1][0], part)
        else:
            items.append((part, None))
    return items


def _first_token(node: Tree[Token] | Token) -> Token:
    if isinstance(node, Token):
        return node
    return _first_token(_parts(node)[0])


def _last_token(node: Tree[Token] | Token) -> Token:
    if isinstance(node, Token):
        return node
    return _last_token(_parts(node)[-1])


class Printer:
    """Walks the concrete tree once, writing tokens; `base` is the indentation of the construct
    being written (where its closing bracket goes, its items one step further in)."""

    def __init__(self, text: str, tree: Tree[Token]) -> None:
        self.tree = tree
        self.gaps, self.end_gap = gaps(text, significant_tokens(tree))
        self.out = Lines()
        self.base = 0
        self.top = False  # blank lines are kept between statements only
        self.measuring = False  # writing a list on one line only to see how long it is
        self.rules: dict[str, Callable[[Tree[Token], bool], None]] = {
            "start": self._program,
            "flow": self._flow,
            "schema_decl": self._schema,
            "test_decl": self._test,
            "aggregate_op": self._block_op,
            "rolling_op": self._block_op,
            "union": self._call,
            "list_lit": self._bracketed,
            "record_lit": self._bracketed,
            "derive_op": self._listed_op,
            "select_op": self._listed_op,
            **dict.fromkeys(_CALLS, self._call),
            **dict.fromkeys(_TIGHT, self._tight),
        }

    def text(self) -> str:
        self.node(self.tree, False)
        return self.out.text()

    # -- tokens and what lies between them

    def token(self, token: Token, space: bool = True) -> None:
        self.gap(token)
        self.out.put(str(token), space)

    def gap(self, before: Token) -> None:
        """The comments (and, between statements, blank lines) written before `before`: each
        gap once, so a token met again when a list is measured brings no comment twice."""
        if not self.measuring:
            self.write_gap(self.gaps.pop(before.start_pos or 0, NO_GAP))

    def write_gap(self, gap: Gap) -> None:
        continuation = self.base + 2 * INDENT  # a line a comment broke goes on here
        if gap.trailing:
            was_open = self.out.open is not None
            self.out.trailing(gap.trailing)
            if was_open:
                self.out.end(continuation)
        for line in gap.lines:
            if line is None:
                if self.top:
                    self.out.blank()
            else:
                if self.out.open is not None:
                    self.out.end(continuation)
                self.out.comment_line(line)

    def node(self, node: Tree[Token] | Token, space: bool) -> None:
        if isinstance(node, Token):
            self.token(node, space)
            return
        self.rules.get(str(node.data), self._spaced)(node, space)

    # -- rules

    def _spaced(self, node: Tree[Token], space: bool) -> None:
        """Parts one space apart, but none before `,`, `:`, `?` and a closing bracket."""
        for i, part in enumerate(_parts(node)):
            self.node(part, space if i == 0 else not _is_any(part, _NO_SPACE_BEFORE))

    def _tight(self, node: Tree[Token], space: bool) -> None:
        for i, part in enumerate(_parts(node)):
            self.node(part, space and i == 0)

    def _program(self, node: Tree[Token], space: bool) -> None:
        for statement in _parts(node):
            self.out.end(0)
            self.base = 0
            self.top = True
            self.gap(_first_token(statement))
            self.top = False
            self.node(statement, False)
        self.out.end(0)
        self.top = True
        self.write_gap(self.end_gap)

    def _flow(self, node: Tree[Token], space: bool) -> None:
        head, *rest = _parts(node)
        self.node(head, space)
        outer = self.base
        for bar, operator in zip(rest[::2], rest[1::2]):
            self.base = outer + INDENT
            self.out.end(self.base)
            self.node(bar, False)
            self.base = outer + 2 * INDENT
            self.node(operator, True)
        self.base = outer

    def _call(self, node: Tree[Token], space: bool) -> None:
        """`name(args)`, then what follows the `)` (`concurrency 2`)."""
        parts = _parts(node)
        open_at = next(i for i, p in enumerate(parts) if _is(p, "LPAR"))
        close_at = next(i for i, p in enumerate(parts) if _is(p, "RPAR"))
        for i, part in enumerate(parts[:open_at]):
            self.node(part, space or i > 0)
        inside = parts[open_at + 1 : close_at]
        if len(inside) == 1 and isinstance(inside[0], Tree) and inside[0].data == "arguments":
            inside = _parts(inside[0])
        self.bracketed(parts[open_at], inside, parts[close_at], space=False, pad=False)
        for part in parts[close_at + 1 :]:
            self.node(part, True)

    def _bracketed(self, node: Tree[Token], space: bool) -> None:
        first, *inside, last = _parts(node)
        assert isinstance(first, Token) and isinstance(last, Token)
        self.bracketed(first, inside, last, space, pad=False)

    def _block_op(self, node: Tree[Token], space: bool) -> None:
        """`aggregate by k { n = count() }`, `rolling 10m by k { ... }`: `=` lined up when the
        block takes one line per item."""
        parts = _parts(node)
        open_at = next(i for i, p in enumerate(parts) if _is(p, "LBRACE"))
        for i, part in enumerate(parts[:open_at]):
            self.node(part, space if i == 0 else not _is(part, "COMMA"))
        first, last = parts[open_at], parts[-1]
        assert isinstance(first, Token) and isinstance(last, Token)
        self.bracketed(first, parts[open_at + 1 : -1], last, space=True, pad=True, align="=")

    def _listed_op(self, node: Tree[Token], space: bool) -> None:
        """`derive a = x, b = y`, `select a, b = y`: the items after the first go under it, `=`
        lined up, when the author broke the list over lines or it would not fit."""
        keyword, *rest = _parts(node)
        items = _items(rest)
        first, last = _first_token(items[0][0]), _last_token(items[-1][0])
        vertical = not self.measuring and (
            first.line != last.line or self.out.column + self._width(node) > WIDTH
        )
        if not vertical:
            self._spaced(node, space)
            return
        self.node(keyword, space)
        outer, self.base = self.base, self.out.column + 1
        names = [_aligned_name(item, "=") for item, _ in items]
        width = max((len(n) for n in names if n is not None), default=0)
        for i, ((item, comma), name) in enumerate(zip(items, names)):
            if i:
                self.out.end(self.base)
            if name is not None and isinstance(item, Tree):
                self._aligned(item, width, i == 0)
            else:
                self.node(item, i == 0)
            if i < len(items) - 1:
                self._comma(comma)
        self.base = outer

    def _schema(self, node: Tree[Token], space: bool) -> None:
        parts = _parts(node)
        brace = next(i for i, p in enumerate(parts) if _is(p, "LBRACE"))
        for part in parts[:brace]:
            self.node(part, True)
        self.block(parts[brace], parts[brace + 1 : -1], parts[-1], align=":")

    def _test(self, node: Tree[Token], space: bool) -> None:
        test, name, brace, *inside, close = _parts(node)
        self.node(test, space)
        self.node(name, True)
        self.block(brace, inside, close, align=None)

    # -- bracketed lists and blocks

    def bracketed(
        self,
        open_: Token | Tree[Token],
        inside: list[Tree[Token] | Token],
        close: Token | Tree[Token],
        space: bool,
        pad: bool,
        align: str | None = None,
    ) -> None:
        """A list on one line (`[1, 2]`, `{ n = count() }` with `pad`), or one item per line
        when the author broke it over lines or it would not fit."""
        assert isinstance(open_, Token) and isinstance(close, Token)
        items = _items(inside)
        if self.measuring or not self._vertical(open_, items, close, space, pad):
            self._inline(open_, items, close, space, pad)
            return
        self.token(open_, space)
        self._lines(items, align, commas=True)
        self._close(close)

    def _inline(self, open_: Token, items: _Items, close: Token, space: bool, pad: bool) -> None:
        self.token(open_, space)
        for i, (item, comma) in enumerate(items):
            self.node(item, pad or i > 0)
            if i < len(items) - 1:
                self._comma(comma)
            elif comma:
                self.gap(comma)  # a trailing comma is dropped, never a comment after it
        self.token(close, pad and bool(items))

    def _comma(self, comma: Token | None) -> None:
        if comma is None:
            self.out.put(",", False)
        else:
            self.token(comma, False)

    def block(
        self,
        open_: Token | Tree[Token],
        inside: list[Tree[Token] | Token],
        close: Token | Tree[Token],
        align: str | None,
    ) -> None:
        """A `schema` or `test` body: always one item per line, no commas."""
        assert isinstance(open_, Token) and isinstance(close, Token)
        items = _items(inside)
        self.token(open_, True)
        if not items and not self.gaps.get(close.start_pos or 0, NO_GAP).comments:
            self.token(close, False)  # `schema Empty {}`
            return
        self._lines(items, align, commas=False)
        self._close(close)

    def _vertical(self, open_: Token, items: _Items, close: Token, space: bool, pad: bool) -> bool:
        close_gap = self.gaps.get(close.start_pos or 0, NO_GAP)
        if open_.line != close.line and (items or close_gap.comments):
            return True
        width = self._width(lambda: self._inline(open_, items, close, False, pad))
        return self.out.column + space + width > WIDTH

    def _width(self, write: Tree[Token] | Callable[[], None]) -> int:
        """How long a node (or what `write` writes) is on one line."""
        saved = self.out, self.measuring
        self.out, self.measuring = Lines(), True
        try:
            if isinstance(write, Tree):
                self.node(write, False)
            else:
                write()
            return len(self.out.open or "")
        finally:
            self.out, self.measuring = saved

    def _lines(self, items: _Items, align: str | None, commas: bool) -> None:
        outer = self.base
        self.base = outer + INDENT
        names = [_aligned_name(item, align) for item, _ in items]
        width = max((len(n) for n in names if n is not None), default=0)
        for (item, comma), name in zip(items, names):
            self.out.end(self.base)
            if name is not None and isinstance(item, Tree):
                self._aligned(item, width)
            else:
                self.node(item, False)
            if commas:
                self._comma(comma)
            elif comma:
                self.gap(comma)
        self.out.end(self.base)

    def _close(self, close: Token) -> None:
        self.gap(close)  # comments before the closing bracket stay with the items
        self.base -= INDENT
        self.out.end(self.base)
        self.token(close, False)

    def _aligned(self, item: Tree[Token], width: int, space: bool = False) -> None:
        """`name: type` or `name = value` with the type or `=` in the block's common column."""
        name, separator, *rest = _parts(item)
        self.node(name, space)
        if _is(separator, "COLON"):
            self.node(separator, False)
        self.out.put(" " * (width - len(str(name))), False)
        if not _is(separator, "COLON"):
            self.node(separator, True)
        for part in rest:
            self.node(part, True)


def _is_any(node: Node, kinds: set[str]) -> bool:
    return isinstance(node, Token) and node.type in kinds


def _aligned_name(item: Tree[Token] | Token, align: str | None) -> str | None:
    """The name an item lines up after (`n` of `n = count()`), when the block lines them up."""
    if align is None or not isinstance(item, Tree):
        return None
    parts = _parts(item)
    if len(parts) >= 3 and isinstance(parts[0], Token) and str(parts[1]) == align:
        return str(parts[0])
    return None
