// Bar charts as SVG, drawn here (no chart library to download): each bar is labelled with its value in words
// too, and the whole chart has a text alternative.
import { el } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.flat(Infinity).filter(Boolean));
  return node;
}

function text(x, y, content, attributes = {}) {
  const node = svg("text", { x, y, ...attributes });
  node.textContent = content;
  return node;
}

// rows: [{label, parts: [{name, value, tone}]}]; stacked horizontal bars with a legend.
export function stackedBars(title, rows, format = String) {
  const width = 640;
  const bar = 22;
  const gap = 12;
  const labelWidth = 170;
  const height = rows.length * (bar + gap) + 40;
  const max = Math.max(1, ...rows.map((row) => row.parts.reduce((sum, part) => sum + part.value, 0)));
  const scale = (width - labelWidth - 90) / max;
  const names = [...new Map(rows.flatMap((row) => row.parts).map((part) => [part.name, part.tone])).entries()];
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${describe(rows, format)}`, class: "chart" },
    rows.map((row, index) => {
      const y = index * (bar + gap) + 8;
      let x = labelWidth;
      const total = row.parts.reduce((sum, part) => sum + part.value, 0);
      return [
        text(labelWidth - 8, y + bar * 0.7, row.label, { "text-anchor": "end" }),
        row.parts.map((part) => {
          const rect = svg("rect", { x, y, width: Math.max(0, part.value * scale), height: bar, class: `tone-${part.tone}` }, svg("title", {}, `${part.name}: ${format(part.value)}`));
          x += part.value * scale;
          return rect;
        }),
        text(x + 6, y + bar * 0.7, format(total)),
      ];
    }),
    legend(names, 10, height - 22),
  );
  return el("figure", { class: "chart" }, el("figcaption", {}, title), chart);
}

// One swatch and name after another, each as wide as its name (about 7 units a character at this font size).
function legend(names, x, y) {
  let left = x;
  return names.map(([name, tone]) => {
    const item = [svg("rect", { x: left, y, width: 12, height: 12, class: `tone-${tone}` }), text(left + 18, y + 10, name)];
    left += 18 + name.length * 7 + 24;
    return item;
  });
}

function describe(rows, format) {
  return rows
    .map((row) => `${row.label}: ${row.parts.map((part) => `${part.name} ${format(part.value)}`).join(", ")}`)
    .join("; ");
}
