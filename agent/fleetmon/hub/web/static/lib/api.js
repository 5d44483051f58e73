// The hub's JSON API as the pages call it. Paths are relative ("api/v1/alerts"): the console works at / and
// /dashboard, and behind a reverse proxy under a prefix. Errors carry the server's own words.

export class ApiError extends Error {
  constructor(status, message, body = null, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;  // 0: the hub did not answer at all
    this.body = body;
    this.retryAfter = retryAfter;  // seconds, on 429
  }
}

// The login and who-am-i answer 401 as part of their job: they never send the reader to the login page.
const AUTH_PATHS = /^api\/v1\/auth\//;

/**
 * `csrf()` answers the session's token (changes need it); `onUnauthorized()` is called when a request needs a
 * login the reader does not have (the shell shows the login page).
 */
export function createApi({ csrf, onUnauthorized }) {
  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = csrf() || "";
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, `the hub is not answering (${error.message})`);
    }
    const answer = await response.json().catch(() => null);
    if (response.ok) return answer;
    const message = (answer && answer.error) || `${path} answered HTTP ${response.status}`;
    const wait = Number((answer && answer.retry_after) ?? response.headers.get("Retry-After"));
    if (response.status === 401 && !AUTH_PATHS.test(path)) onUnauthorized();
    throw new ApiError(response.status, message, answer, Number.isFinite(wait) && wait > 0 ? wait : null);
  }

  return {
    get: (path) => call("GET", path),
    send: (method, path, body) => call(method, path, body),
  };
}

/** A query string from an object; arrays repeat their key (metric=a&metric=b), null and undefined are left out. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined) search.append(key, String(item));
    }
  }
  return search.toString();
}
