// Checks of the fault and rate-limit rule syntax before a rule is sent. They follow the
// server's parse_fault and parse_rate_limit; the words (operations, kinds, options) come
// from GET /_emulator/syntax. A test runs both on the same examples and compares.
// Each check returns null when the text is good, or a message saying what is wrong.

const NUMBER = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
const INTEGER = /^\s*[+-]?\d+\s*$/;

function number(text) {
  return NUMBER.test(text) ? Number(text) : NaN;
}

export function checkFault(spec, words) {
  const parts = spec.trim().split(":");
  if (parts.length < 3) return `fault ${JSON.stringify(spec)}: expected ${words.form}`;
  const [operation, kind, amount, ...rest] = parts;
  if (!words.operations.includes(operation)) {
    return `unknown fault operation ${JSON.stringify(operation)}; expected one of ${words.operations.join(", ")}`;
  }
  if (!words.kinds.includes(kind)) {
    return `unknown fault kind ${JSON.stringify(kind)}; expected one of ${words.kinds.join(", ")}`;
  }
  if (amount.startsWith("next=")) {
    const count = amount.slice(5);
    if (!INTEGER.test(count)) return `fault count must be an integer, not ${JSON.stringify(count)}`;
    if (Number(count) < 0) return `fault count must be >= 0, not ${count}`;
  } else {
    const rate = number(amount);
    if (Number.isNaN(rate)) return `fault rate must be a number, not ${JSON.stringify(amount)}`;
    if (rate < 0 || rate > 1) return `fault rate must be within 0..1, not ${amount}`;
  }
  let when = "before";
  for (const part of rest) {
    if (words.whens.includes(part)) {
      when = part;
    } else if (part.includes("=")) {
      const [key, ...valueParts] = part.split("=");
      const value = valueParts.join("=");
      if (!words.options.includes(key)) return `unknown option ${JSON.stringify(key)}`;
      if (key === "retry_after") {
        if (!INTEGER.test(value)) return `retry_after must be an integer, not ${JSON.stringify(value)}`;
        if (Number(value) < 0) return "fault retry_after and seconds must be >= 0";
      } else {
        const seconds = number(value);
        if (Number.isNaN(seconds)) return `seconds must be a number, not ${JSON.stringify(value)}`;
        if (seconds < 0 || !Number.isFinite(seconds)) return "fault retry_after and seconds must be >= 0";
      }
    } else {
      return `cannot read ${JSON.stringify(part)}`;
    }
  }
  if (kind === "429" && when === "after") {
    return "a 429 fault cannot strike 'after': a 429 means the call was not taken, so clients resend it";
  }
  return null;
}

export function checkRateLimit(spec, words) {
  const text = spec.trim();
  const eq = text.indexOf("=");
  const operation = eq < 0 ? text : text.slice(0, eq).trim();
  const [rateText, ...options] = (eq < 0 ? "" : text.slice(eq + 1)).split(",");
  if (eq < 0 || !rateText.endsWith("/s")) return `rate limit ${JSON.stringify(spec)}: expected ${words.form}`;
  for (const option of options) {
    const [key, ...rest] = option.trim().split("=");
    if (key !== "burst" || rest.length === 0) return `unknown option ${JSON.stringify(option.trim())}`;
    const burst = rest.join("=");
    if (!INTEGER.test(burst)) return `burst must be an integer, not ${JSON.stringify(burst)}`;
    if (Number(burst) < 1) return `rate limit burst must be >= 1, not ${burst}`;
  }
  if (!words.operations.includes(operation)) {
    return `unknown rate-limit operation ${JSON.stringify(operation)}; expected one of ${words.operations.join(", ")}`;
  }
  const rate = number(rateText.slice(0, -2));
  if (!(Number.isFinite(rate) && rate > 0)) return `rate limit rate must be a finite number > 0, not ${rateText.slice(0, -2)}`;
  return null;
}
