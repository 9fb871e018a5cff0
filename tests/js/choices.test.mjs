// node --test: the page's remembered choices (transport, API).
import assert from "node:assert/strict";
import { test } from "node:test";

import { recall, remember } from "../../realtime/static/realtime/choices.js";

// localStorage's part the page uses; one instance is one browser across reloads.
class Storage {
  constructor() {
    this.values = new Map();
  }

  getItem(key) {
    return this.values.has(key) ? this.values.get(key) : null;
  }

  setItem(key, value) {
    this.values.set(key, String(value));
  }
}

const API = { key: "voiceproject.api", offered: ["realtime", "live"], fallback: "realtime" };

test("with nothing remembered the server's default is chosen", () => {
  assert.equal(recall(new Storage(), API), "realtime");
  assert.equal(recall(new Storage(), { ...API, fallback: "live" }), "live");
});

test("a choice is remembered across reloads", () => {
  const browser = new Storage();
  remember(browser, API, "live");

  assert.equal(recall(browser, API), "live");
});

test("a remembered API the server no longer offers falls back to the default", () => {
  const browser = new Storage();
  remember(browser, API, "live");

  assert.equal(recall(browser, { ...API, offered: [] }), "realtime");
});

test("a value that is not offered is neither remembered nor recalled", () => {
  const browser = new Storage();
  remember(browser, API, "gpt-9");
  browser.setItem("voiceproject.transport", "carrier-pigeon");

  assert.equal(browser.getItem(API.key), null);
  const transport = { key: "voiceproject.transport", offered: ["webrtc", "websocket"], fallback: "webrtc" };
  assert.equal(recall(browser, transport), "webrtc");
});
