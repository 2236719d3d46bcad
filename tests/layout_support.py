"""Measuring a page in a real browser: does it fit the window, is any cell squeezed?

`assert_fits(page)` is shared by the layout tests (the console's pages, the board, the
alert page); it raises AssertionError listing the offending elements, so a failure says
which cell of which page is too narrow rather than only that something is.
"""

from __future__ import annotations

from typing import Any

MIN_CELL_PX = 48        # a cell narrower than this shows a word or two per line
MIN_CHART_TEXT_PX = 10  # below this a chart's labels cannot be read on a phone

# Every visible table cell or fact with text, and anything wider than the window.
_MEASURE = """(minCell) => {
  const vw = window.innerWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.className && typeof el.className === 'string' && el.className.trim())
      s += '.' + el.className.trim().split(/\\s+/).join('.');
    const row = el.closest('tr[id], section[id], table[id], form[id], div[id]');
    if (row && row !== el) s = (row.tagName.toLowerCase() + '#' + row.id) + ' > ' + s;
    return s;
  };
  const visible = (el) => {
    if (!el.getClientRects().length) return false;
    const st = getComputedStyle(el);
    return st.visibility !== 'hidden' && st.display !== 'none';
  };
  const narrow = [];
  for (const el of document.querySelectorAll('td, th, dd')) {
    if (!visible(el) || !el.textContent.trim()) continue;
    const r = el.getBoundingClientRect();
    if (r.width < minCell)
      narrow.push(name(el) + ' ' + r.width.toFixed(1) + 'px: ' +
                  JSON.stringify(el.textContent.trim().slice(0, 40)));
  }
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right > vw + 0.5 && r.width > 0) {
      // inside a box that scrolls sideways on purpose (the nav row) is no overflow
      let p = el.parentElement, clipped = false;
      while (p && p !== document.body) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
        p = p.parentElement;
      }
      if (!clipped) wide.push(name(el) + ' right=' + r.right.toFixed(0));
    }
  }
  return {vw, scroll: document.documentElement.scrollWidth, narrow, wide: wide.slice(0, 12)};
}"""

_CHART_TEXT = """() => Array.from(document.querySelectorAll('svg.chart text'))
  .filter((t) => t.getClientRects().length && t.textContent.trim())
  .map((t) => {
    const m = t.getScreenCTM();
    const scale = m ? Math.hypot(m.a, m.b) : 1;
    return {text: t.textContent.trim().slice(0, 20),
            px: parseFloat(getComputedStyle(t).fontSize) * scale};
  })"""


def measure(page: Any) -> dict[str, Any]:
    """The window's width, the document's scroll width, squeezed cells and overflowing
    elements of the page as it is now."""
    return page.evaluate(_MEASURE, MIN_CELL_PX)  # type: ignore[no-any-return]


def assert_fits(page: Any, min_cell: int = MIN_CELL_PX) -> None:
    """No horizontal overflow, and no visible td/th/dd with text narrower than min_cell px."""
    m = page.evaluate(_MEASURE, min_cell)
    problems = []
    if m["scroll"] > m["vw"]:
        problems.append(f"document is {m['scroll']} px wide in a {m['vw']} px window; "
                        f"too wide: {m['wide']}")
    if m["narrow"]:
        problems.append(f"cells narrower than {min_cell} px: {m['narrow']}")
    if problems:
        raise AssertionError(f"{page.url} at {m['vw']} px: " + "; ".join(problems))


def chart_text_sizes(page: Any) -> list[dict[str, Any]]:
    """Every visible text of the page's charts with its rendered font size in px."""
    return page.evaluate(_CHART_TEXT)  # type: ignore[no-any-return]


def assert_chart_text_readable(page: Any, min_px: float = MIN_CHART_TEXT_PX) -> None:
    sizes = chart_text_sizes(page)
    assert sizes, f"{page.url}: no chart text found"
    small = [s for s in sizes if s["px"] < min_px - 0.01]
    if small:
        raise AssertionError(f"{page.url}: chart text below {min_px} px: {small[:10]}")
