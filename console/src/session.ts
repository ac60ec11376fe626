// The signed-in API key lives in sessionStorage only (no cookies): closing the tab signs out.
const KEY = 'cex.apiKey';
const NOTICE = 'cex.signInNotice';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
  sessionStorage.removeItem(NOTICE);
}

/** Forgets the key; `notice` is shown on the sign-in page (e.g. why the session ended). */
export function clearKey(notice?: string): void {
  sessionStorage.removeItem(KEY);
  if (notice) sessionStorage.setItem(NOTICE, notice);
}

export function takeNotice(): string | null {
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  return notice;
}
