// The account page: the service's own routes, on the same origin under `make dev`; when
// deployed, the page has a domain of its own and calls the API's (the `api-base` meta). Tokens live in this page's
// memory only: a reload signs out. No build step, no dependency.
"use strict";

const API_BASE = document.querySelector('meta[name="api-base"]').content;

const state = { access: null, refresh: null, mfaToken: null, totpFactor: null, email: null, confirming: null };
const $ = (id) => document.getElementById(id);
// The HTTP status of an answer, beside its body.
const STATUS = Symbol("status");

function say(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function call(method, path, body, token = state.access) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(API_BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const detail = data.detail || data.message || (data.errors && JSON.stringify(data.errors)) || response.statusText;
    const error = new Error(detail);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  data[STATUS] = response.status;
  return data;
}

// Setting up the account's first factor is confirmed by a code sent to its proven email
// (202): the same request goes again with the code, then `next` takes the answer.
async function confirmed(path, next) {
  const answer = await call("POST", path, {});
  if (answer[STATUS] !== 202) return next(answer);
  state.confirming = { path, next };
  $("confirm-form").hidden = false;
  $("confirm-code").focus();
  say(`${answer.detail} Enter it to go on.`);
}

function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
}

function guarded(handler) {
  return async (event) => {
    if (event) event.preventDefault();
    try {
      await handler(event);
    } catch (error) {
      say(error.message, true);
    }
  };
}

async function signedIn(tokens) {
  state.access = tokens.access_token;
  state.refresh = tokens.refresh_token;
  state.mfaToken = null;
  $("second-step-form").hidden = true;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  await refreshView();
  say("You are logged in.");
}

function signedOut(message) {
  Object.assign(state, { access: null, refresh: null, mfaToken: null, totpFactor: null });
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  $("totp-setup").hidden = true;
  $("recovery").hidden = true;
  say(message);
}

function item(list, text, button) {
  const li = document.createElement("li");
  li.textContent = text;
  if (button) {
    li.append(" ");
    li.append(button);
  }
  list.append(li);
}

function actionButton(label, handler) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.addEventListener("click", guarded(handler));
  return button;
}

async function refreshView() {
  const token = claims(state.access);
  const level = token.acr === "aal2" ? "with a second factor" : "with a password";
  $("assurance").textContent = `Logged in ${level} (${token.acr}; ${(token.amr || []).join(", ")}).`;
  $("assurance").dataset.acr = token.acr;

  const profile = $("profile");
  profile.replaceChildren();
  try {
    const p = await call("GET", "/users/profile");
    for (const [name, value] of [["Name", `${p.first_name || ""} ${p.last_name || ""}`.trim()], ["Email", p.email], ["Phone", p.phone]]) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      profile.append(dt, dd);
    }
  } catch (error) {
    if (error.status !== 404) throw error;
  }

  const factors = await call("GET", "/users/me/mfa");
  const app = factors.factors.find((f) => f.type === "totp");
  $("totp-state").textContent = app
    ? `An authenticator app is on (${factors.recovery_codes_left} recovery codes left).`
    : "No authenticator app yet.";
  $("totp-start").hidden = Boolean(app);

  const passkeys = $("passkeys");
  passkeys.replaceChildren();
  try {
    const listed = await call("GET", "/users/me/passkeys");
    for (const passkey of listed.passkeys) {
      const used = passkey.last_used_at ? `last used ${passkey.last_used_at}` : "not used yet";
      item(passkeys, `Passkey added ${passkey.created_at}, ${used}.`, actionButton("Remove this passkey", async () => {
        await call("DELETE", `/users/me/passkeys/${encodeURIComponent(passkey.id)}`);
        await refreshView();
        say("The passkey is removed.");
      }));
    }
    if (listed.passkeys.length === 0) item(passkeys, "No passkeys yet.");
  } catch (error) {
    if (error.status !== 501) throw error;
    item(passkeys, "Passkeys are off on this deployment.");
  }

  const sessions = $("sessions");
  sessions.replaceChildren();
  const listed = await call("GET", "/users/me/sessions");
  for (const session of listed.sessions) {
    const label = `${session.current ? "This session" : "Session"} since ${session.created_at}`;
    item(sessions, label, session.current ? null : actionButton("End this session", async () => {
      await call("DELETE", `/users/me/sessions/${session.id}`);
      await refreshView();
      say("The session is ended.");
    }));
  }
}

function wire() {
  $("signup-form").addEventListener("submit", guarded(async () => {
    const form = new FormData($("signup-form"));
    const password = form.get("password");
    state.email = form.get("email");
    await call("POST", "/api/v1/accounts/users", {
      email: state.email,
      password,
      confirm_password: password,
      first_name: form.get("first_name"),
      last_name: form.get("last_name"),
    }, null);
    $("verify-form").hidden = false;
    $("verify-code").focus();
    say("Check your email for the code.");
  }));

  $("verify-form").addEventListener("submit", guarded(async () => {
    await call("POST", "/users/verify", { email: state.email, code: $("verify-code").value.trim() }, null);
    $("verify-form").hidden = true;
    $("login-email").value = state.email;
    $("login-password").focus();
    say("Your email is verified. Log in.");
  }));

  $("login-form").addEventListener("submit", guarded(async () => {
    const answer = await call("POST", "/auth/login", {
      email: $("login-email").value,
      password: $("login-password").value,
    }, null);
    $("login-password").value = "";
    if (answer.mfa_required) {
      state.mfaToken = answer.mfa_token;
      $("second-step-form").hidden = false;
      $("second-step-code").focus();
      say("Enter the code from your authenticator app.");
      return;
    }
    await signedIn(answer);
  }));

  $("second-step-form").addEventListener("submit", guarded(async () => {
    const tokens = await call("POST", "/auth/mfa/verify", {
      mfa_token: state.mfaToken,
      code: $("second-step-code").value.trim(),
    }, null);
    $("second-step-code").value = "";
    await signedIn(tokens);
  }));

  $("passkey-sign-in").addEventListener("click", guarded(async () => {
    const options = await call("POST", "/auth/passkey/options", {}, null);
    const credential = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    });
    const tokens = await call("POST", "/auth/passkey", {
      challenge_id: options.challenge_id,
      credential: credential.toJSON(),
    }, null);
    await signedIn(tokens);
  }));

  $("logout").addEventListener("click", guarded(async () => {
    await call("POST", "/auth/logout", { refresh_token: state.refresh }, null);
    signedOut("You are logged out.");
  }));

  $("confirm-form").addEventListener("submit", guarded(async () => {
    const { path, next } = state.confirming;
    const answer = await call("POST", path, { code: $("confirm-code").value.trim() });
    $("confirm-code").value = "";
    $("confirm-form").hidden = true;
    state.confirming = null;
    await next(answer);
  }));

  $("totp-start").addEventListener("click", guarded(() => confirmed("/users/me/mfa/totp", async (setup) => {
    state.totpFactor = setup.factor_id;
    $("totp-qr").src = `data:image/svg+xml;base64,${btoa(setup.qr_svg)}`;
    $("totp-secret").textContent = setup.secret;
    $("totp-setup").hidden = false;
    $("totp-code").focus();
    say("Add the key to your authenticator app, then enter the code it shows.");
  })));

  $("totp-verify-form").addEventListener("submit", guarded(async () => {
    const answer = await call("POST", "/users/me/mfa/totp/verify", {
      factor_id: state.totpFactor,
      code: $("totp-code").value.trim(),
    });
    $("totp-code").value = "";
    $("totp-setup").hidden = true;
    const list = $("recovery-codes");
    list.replaceChildren();
    for (const code of answer.recovery_codes) item(list, code);
    $("recovery").hidden = false;
    await refreshView();
    say("The authenticator app is on. Save your recovery codes.");
  }));

  $("passkey-add").addEventListener("click", guarded(() => confirmed("/users/me/passkeys/options", async (options) => {
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey),
    });
    await call("POST", "/users/me/passkeys", {
      challenge_id: options.challenge_id,
      credential: credential.toJSON(),
    });
    await refreshView();
    say("The passkey is added.");
  })));

  $("export").addEventListener("click", guarded(async () => {
    const link = await call("POST", "/users/me/export", {});
    $("export-link").href = link.url;
    $("export-link").hidden = false;
    say("Your data is ready to download.");
  }));

  $("erase-form").addEventListener("submit", guarded(async () => {
    if (!window.confirm("Erase your account and everything it holds? This cannot be undone.")) return;
    await call("DELETE", "/users/me", { password: $("erase-password").value });
    signedOut("Your account is erased.");
  }));
}

wire();
