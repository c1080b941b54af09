// DOM helpers. Everything a worker or caller wrote is set as text (textContent, text
// nodes), never parsed as HTML: nothing here touches innerHTML.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "href") node.setAttribute("href", safeHref(value));
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// Only links into this page (#...) or same-origin paths (/...) are ever set.
export function safeHref(value) {
  const text = String(value);
  if (text.startsWith("#") || (text.startsWith("/") && !text.startsWith("//"))) return text;
  return "#";
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

export function table(headers, rows, props = {}) {
  return h("table", props,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows));
}

export function shortTime(text) {
  if (!text) return "";
  return text.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function ago(text, serverNow) {
  if (!text) return "never";
  const seconds = Math.max(0, serverNow - Date.parse(text) / 1000);
  return seconds < 5 ? "just now" : `${seconds.toFixed(0)} s ago`;
}

// A lease end that counts down every second without a fetch (see tickCountdowns).
export function countdown(expiresAt, clockOffset) {
  if (!expiresAt) return h("span", {}, "");
  const span = h("span", {
    className: "countdown",
    dataset: { expires: String(Date.parse(expiresAt) / 1000), offset: String(clockOffset) },
  });
  renderCountdown(span);
  return span;
}

function renderCountdown(span) {
  const now = Date.now() / 1000 + Number(span.dataset.offset);
  const left = Number(span.dataset.expires) - now;
  span.textContent = left > 0 ? `${left.toFixed(0)} s left` : `lapsed ${(-left).toFixed(0)} s ago`;
  span.classList.toggle("lapsed", left <= 0);
}

export function tickCountdowns() {
  for (const span of document.querySelectorAll("span.countdown")) renderCountdown(span);
}

export function progressBar(progress) {
  if (typeof progress !== "number" || !Number.isFinite(progress)) return h("span", {}, "");
  const fraction = progress > 1 ? progress / 100 : progress;
  const percent = Math.max(0, Math.min(100, fraction * 100));
  return h("span", { className: "progress", title: String(progress) },
    h("meter", { min: "0", max: "100", value: String(percent) }),
    ` ${percent.toFixed(0)} %`);
}
