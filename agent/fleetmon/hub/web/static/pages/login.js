// The login (#/login): POST api/v1/auth/login; the hub sets the session cookie and answers the CSRF token.
// A refusal shows the hub's own words; while the hub slows down guessing (429), also how long it still waits.
import { escapeHtml } from "../lib/html.js";

let countdown = 0;

export default {
  path: "login",
  title: "Log in",
  nav: false,
  role: null,

  async render(root, params, ctx) {
    const signedInAs = ctx.me.user ? `<p class="muted">Logged in as ${escapeHtml(ctx.me.user)}.</p>` : "";
    root.innerHTML = `<form id="login-form" class="login" novalidate><h1>Log in to fleetmon</h1>${signedInAs}` +
      '<label for="login-user">User</label>' +
      '<input id="login-user" name="user" type="text" autocomplete="username" autocapitalize="none" required>' +
      '<label for="login-password">Password</label>' +
      '<input id="login-password" name="password" type="password" autocomplete="current-password" required>' +
      '<button type="submit">Log in</button><p id="login-error" role="alert"></p></form>';
    const form = root.querySelector("#login-form");
    const button = form.querySelector("button[type=submit]");
    const error = form.querySelector("#login-error");
    form.querySelector("#login-user").focus();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearInterval(countdown);
      error.textContent = "";
      button.disabled = true;
      const body = { user: form.user.value.trim(), password: form.password.value };
      try {
        await ctx.api.send("POST", "api/v1/auth/login", body);
      } catch (refusal) {
        button.disabled = false;
        form.password.select();
        if (refusal.status === 429 && refusal.retryAfter) waitOut(refusal, error);
        else error.textContent = refusal.message;
        return;
      }
      await ctx.signedIn();
    });
  },

  dispose() {
    clearInterval(countdown);
  },
};

/**
 * The hub's words and the seconds of its back-off left, counted down. The button stays: an attempt before the
 * end is the hub's to refuse (unread), as it refuses a script's.
 */
function waitOut(refusal, error) {
  let left = Math.ceil(refusal.retryAfter);
  const show = () => {
    error.textContent = `${refusal.message} (wait ${left} s)`;
  };
  show();
  countdown = setInterval(() => {
    left -= 1;
    if (left > 0) {
      show();
      return;
    }
    clearInterval(countdown);
    error.textContent = "You may try again now.";
  }, 1000);
}
