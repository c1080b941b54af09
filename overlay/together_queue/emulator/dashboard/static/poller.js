// Live updates by polling with backoff (see the emulator guide for why not server-sent
// events). Each tick asks GET /_emulator/overview?since=VERSION: when nothing changed in
// the store the answer is a counter, and the delay grows from POLL_MIN_MS to POLL_MAX_MS;
// a change resets it. An error backs off up to POLL_ERROR_MAX_MS. A hidden tab does not
// poll. At least every FULL_REFRESH_MS the whole overview is fetched (rates, last polls).

export const POLL_MIN_MS = 1000;
export const POLL_MAX_MS = 4000;
export const POLL_ERROR_MAX_MS = 30000;
export const FULL_REFRESH_MS = 5000;

export class Poller {
  constructor(tick, onState) {
    this.tick = tick; // async (since) -> {changed: boolean}; throws on failure
    this.onState = onState; // (state, detail) -> void
    this.delay = POLL_MIN_MS;
    this.errorDelay = 0;
    this.timer = null;
    this.running = false;
    this.lastFull = 0;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.now();
    });
  }

  start() {
    this.running = true;
    this.now();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  // Poll at once (after an action, a navigation, or when the tab shows again).
  now() {
    clearTimeout(this.timer);
    this.delay = POLL_MIN_MS;
    this.timer = setTimeout(() => this.run(), 0);
  }

  async run() {
    if (!this.running) return;
    if (document.visibilityState === "hidden") {
      this.onState("paused", "tab hidden");
      return; // visibilitychange resumes
    }
    const full = Date.now() - this.lastFull >= FULL_REFRESH_MS;
    try {
      const result = await this.tick(full);
      if (full || result.changed) this.lastFull = full ? Date.now() : this.lastFull;
      this.errorDelay = 0;
      this.delay = result.changed ? POLL_MIN_MS : Math.min(this.delay * 2, POLL_MAX_MS);
      this.onState("live", "");
    } catch (error) {
      if (error && error.name === "AuthError") {
        this.onState("auth", error.message);
        this.running = false;
        return;
      }
      this.errorDelay = Math.min(Math.max(this.errorDelay * 2, POLL_MIN_MS * 2), POLL_ERROR_MAX_MS);
      this.delay = this.errorDelay;
      this.onState("error", `${error.message || error}; retrying in ${(this.delay / 1000).toFixed(0)} s`);
    }
    if (this.running) this.timer = setTimeout(() => this.run(), this.delay);
  }
}
