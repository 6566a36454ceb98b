// The signed-in token and what it says about its holder. The token stays in this
// tab's sessionStorage only (gone when the tab closes); the console reads its
// claims to address the account and to offer only what the role may do. The
// ledger checks the token on every call, so nothing here grants anything.

const TOKEN_KEY = 'licensing-ledger.console.token';
const AS_OF_KEY = 'licensing-ledger.console.as-of';
const WRITE_KEY = 'licensing-ledger.console.last-write';

/** What each role may do, as the ledger's access policy says (README, "Accounts and tokens"). */
const PERMISSIONS = {
  portal: ['read_models', 'change', 'read_history'],
  read_only: ['read_models', 'read_history'],
  auditor: ['read_history'],
};

/** The claims of a compact JWT, without checking its signature (the ledger does). */
export function decodeClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => part === '')) {
    throw new Error('a token has three parts separated by dots');
  }
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Error('this is not a token the ledger issues');
  }
}

/** The signed-in session, or null. */
export function current() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    return describe(token);
  } catch {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
}

/** Checks the token's shape and keeps it; answers its session. Throws with the reason. */
export function signIn(token) {
  const session = describe(token.trim());
  sessionStorage.setItem(TOKEN_KEY, session.token);
  return session;
}

/** Forgets the token, the as-of instant and the last write. */
export function signOut() {
  for (const key of [TOKEN_KEY, AS_OF_KEY, WRITE_KEY]) sessionStorage.removeItem(key);
}

function describe(token) {
  const claims = decodeClaims(token);
  const permissions = PERMISSIONS[claims.role];
  if (!permissions) {
    throw new Error(`a token of role “${claims.role}” cannot use the console: use a portal, read-only or auditor token`);
  }
  if (typeof claims.account !== 'string') {
    throw new Error('this token names no account');
  }
  return {
    token,
    account: claims.account,
    role: claims.role,
    subject: claims.sub,
    expires: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null,
    may: (permission) => permissions.includes(permission),
  };
}

/** The instant (RFC 3339, UTC) the auditor's views are shown as of, or null for now. */
export function asOf() {
  return sessionStorage.getItem(AS_OF_KEY);
}

export function setAsOf(instant) {
  if (instant) sessionStorage.setItem(AS_OF_KEY, instant);
  else sessionStorage.removeItem(AS_OF_KEY);
}

/** Notes the global position of a command this tab made. */
export function wrote(position) {
  if (position > lastWrite()) sessionStorage.setItem(WRITE_KEY, String(position));
}

/** The highest position this tab wrote (0: none). */
export function lastWrite() {
  return Number(sessionStorage.getItem(WRITE_KEY)) || 0;
}

export function forgetWrites() {
  sessionStorage.removeItem(WRITE_KEY);
}
