// The page's choices (transport, API), remembered in this browser. Pure: the storage is
// passed in (the page's localStorage), so Node's test runner checks it
// (tests/js/choices.test.mjs). A choice is { key, offered, fallback }: its storage key, the
// values the server offers now, and the server's default.

// The remembered value if it is still offered (the server may have stopped offering GPT-Live),
// else the server's default.
export function recall(storage, { key, offered, fallback }) {
  const saved = storage.getItem(key);
  return offered.includes(saved) ? saved : fallback;
}

export function remember(storage, { key, offered }, value) {
  if (offered.includes(value)) storage.setItem(key, value);
}
