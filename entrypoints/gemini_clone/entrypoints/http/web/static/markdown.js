// Markdown of the model's answers, built as DOM nodes whose text is only ever set with
// text nodes: nothing the model writes is parsed as HTML, so `<script>` stays text.
// Covered: paragraphs, headings, fenced code, block quotes, lists, tables, rules, and
// inline code, bold, italic, strike-through and http(s) links.

const FENCE = /^\s*(```|~~~)\s*([\w+#.-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s*>\s?(.*)$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
const INLINE =
  /(`+)(.+?)\1|\*\*(.+?)\*\*|__(.+?)__|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)|(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)|~~(.+?)~~|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Inline markup of one block's text, appended to `parent`. */
function appendInline(parent, text) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) parent.append(text.slice(last, match.index));
    const [, ticks, code, bold, bold2, em, em2, strike, label, url] = match;
    if (ticks) parent.append(element("code", null, code.trim() || code));
    else if (bold || bold2) appendInline(parent.appendChild(element("strong")), bold || bold2);
    else if (em || em2) appendInline(parent.appendChild(element("em")), em || em2);
    else if (strike) appendInline(parent.appendChild(element("s")), strike);
    else {
      const link = element("a", null, label);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      parent.append(link);
    }
    last = match.index + match[0].length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

function appendLines(parent, lines) {
  lines.forEach((line, index) => {
    if (index) parent.append(element("br"));
    appendInline(parent, line);
  });
}

function codeBlock(language, lines) {
  const figure = element("figure", "code");
  const bar = element("figcaption", null);
  bar.append(element("span", null, language || "code"));
  const copy = element("button", "copy", "Copy");
  copy.type = "button";
  const text = lines.join("\n");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select and copy";
    }
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  bar.append(copy);
  const pre = element("pre");
  pre.tabIndex = 0; // long lines scroll sideways with the keyboard too
  pre.append(element("code", null, text));
  figure.append(bar, pre);
  return figure;
}

function cells(line) {
  return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim());
}

function table(header, rows) {
  const wrap = element("div", "table");
  const node = wrap.appendChild(element("table"));
  const head = node.createTHead().insertRow();
  for (const cell of cells(header)) appendInline(head.appendChild(element("th")), cell);
  const body = node.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of cells(row)) appendInline(tr.insertCell(), cell);
  }
  return wrap;
}

function list(items) {
  const ordered = /\d/.test(items[0].marker);
  const node = element(ordered ? "ol" : "ul");
  if (ordered && parseInt(items[0].marker, 10) !== 1) node.start = parseInt(items[0].marker, 10);
  for (const item of items) {
    const li = node.appendChild(element("li"));
    appendLines(li, item.lines);
  }
  return node;
}

/** The answer `text` as a fragment of safe DOM nodes. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let match;
    if (line.trim() === "") {
      i++;
    } else if ((match = FENCE.exec(line))) {
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(match[1]); i++) body.push(lines[i]);
      i++; // the closing fence; an answer still being written may not have it yet
      fragment.append(codeBlock(match[2], body));
    } else if ((match = HEADING.exec(line))) {
      const level = Math.min(match[1].length + 2, 6); // the room's title is the page's h2
      appendInline(fragment.appendChild(element(`h${level}`)), match[2].replace(/\s#+\s*$/, ""));
      i++;
    } else if (RULE.test(line)) {
      fragment.append(element("hr"));
      i++;
    } else if (QUOTE.test(line)) {
      const quoted = [];
      for (; i < lines.length && (match = QUOTE.exec(lines[i])); i++) quoted.push(match[1]);
      const quote = fragment.appendChild(element("blockquote"));
      quote.append(renderMarkdown(quoted.join("\n")));
    } else if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      const rows = [];
      for (i += 2; i < lines.length && lines[i].includes("|") && lines[i].trim(); i++) rows.push(lines[i]);
      fragment.append(table(line, rows));
    } else if (ITEM.test(line)) {
      const items = [];
      for (; i < lines.length; i++) {
        if ((match = ITEM.exec(lines[i]))) items.push({ marker: match[2], lines: [match[3]] });
        else if (lines[i].trim() && /^\s/.test(lines[i])) items.at(-1).lines.push(lines[i].trim());
        else break;
      }
      fragment.append(list(items));
    } else {
      const paragraph = [];
      for (; i < lines.length && lines[i].trim() && !startsBlock(lines, i); i++) paragraph.push(lines[i]);
      if (paragraph.length === 0) paragraph.push(lines[i++]);
      appendLines(fragment.appendChild(element("p")), paragraph);
    }
  }
  return fragment;
}

function startsBlock(lines, i) {
  const line = lines[i];
  return FENCE.test(line) || HEADING.test(line) || QUOTE.test(line) || ITEM.test(line) ||
    RULE.test(line) || (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]));
}
