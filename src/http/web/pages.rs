//! The web page's pages, one handler each: read what the request may do (its session,
//! role and CSRF token), call the core, render. Every value shown passes through maud, which
//! escapes it; nothing from a URL is shown as a message (notices after a change are fixed
//! texts chosen by a code).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;
use tracing::{info, warn};

use super::{
    Denied, LOGIN_COOKIE, Role, SESSION_COOKIE, Session, Web, cookie, frame, new_user, plain_page,
    same, set_cookie, token, token_hash,
};
use crate::daemon::{Class, ConsentRecord, ImportConsent, Peer, Submission};
use crate::http::auth::Login;
use crate::store::{ConsentSource, ConsentState, Decision, MessageState, ThreadEntry};
use crate::time::now_ms;

type Fields = HashMap<String, String>;

/// The value a page needs (most often the signed-in session), or the handler answers with
/// the refusal (the sign-in page, or a page saying why not).
macro_rules! or_refuse {
    ($check:expr) => {
        match $check {
            Ok(s) => s,
            Err(denied) => return denied.into_response(),
        }
    };
}

fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(|s| s.trim()).unwrap_or("")
}

/// A time in the shop's zone, as people read it.
fn local(w: &Web, ms: i64) -> String {
    let zone = w.daemon.settings().time_zone;
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(zone)
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// "3 h 5 min" since `ms`.
fn age(ms: i64) -> String {
    let mins = (now_ms() - ms).max(0) / 60_000;
    match mins {
        0 => "just now".into(),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

/// A notice: `ok`, `warn`, `bad` or plain.
type Notice = (&'static str, String);

fn notices(list: &[Notice]) -> Markup {
    html! {
        @for (kind, text) in list {
            p class={ "notice " (kind) } role="status" { (text) }
        }
    }
}

/// The fixed text for a change just made (`?ok=` code).
fn done(q: &Fields) -> Vec<Notice> {
    let text = match q.get("ok").map(String::as_str) {
        Some("queued") => "Queued: it goes out as soon as the gate and a modem allow.",
        Some("retried") => "Queued again.",
        Some("cancelled") => "Cancelled.",
        Some("replied") => "Reply queued.",
        Some("resolved") => "Marked resolved.",
        Some("contact") => "Contact saved.",
        Some("optout") => "Opted out: nothing more is sent to this number.",
        Some("optin") => "Opted back in, with your note on record.",
        Some("user") => "User saved.",
        Some("removed") => "Removed.",
        _ => return Vec::new(),
    };
    vec![("ok", text.to_string())]
}

fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("app.css"),
    )
        .into_response()
}

pub async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("app.js"),
    )
        .into_response()
}

// ---- Signing in -------------------------------------------------------------------------

fn login_page(login_token: &str, list: &[Notice], no_users: bool) -> Response {
    let page = plain_page(
        "Sign in",
        html! {
            (notices(list))
            @if no_users {
                p.notice.warn { "There is no account yet. Open the setup link smsqd wrote to its log (journalctl -u smsqd) to create the owner." }
            }
            form.stack method="post" action="/login" {
                input type="hidden" name="login" value=(login_token);
                label { "Name" input name="name" autocomplete="username" required; }
                label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
        },
    );
    let mut r = Html(page.into_string()).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            login_token,
            Some(std::time::Duration::from_secs(3600)),
        ),
    );
    r
}

pub async fn login_form(State(w): State<Arc<Web>>, headers: HeaderMap) -> Response {
    match w.session(&headers).await {
        Ok(Some(_)) => return Redirect::to("/send").into_response(),
        Ok(None) => {}
        Err(d) => return d.into_response(),
    }
    let no_users = match w.daemon.store.call(|db| db.web_users()).await {
        Ok(users) => users.is_empty(),
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    match token() {
        Ok(t) => login_page(&t, &[], no_users),
        Err(e) => Denied::Failed(e).into_response(),
    }
}

pub async fn login(
    State(w): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    // The form's token must match the cookie the form came with (no login forced on the
    // user from another site).
    let ok_form = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same(&c, field(&f, "login")));
    if !ok_form {
        return Denied::Forbidden("this sign-in form is out of date: reload the page")
            .into_response();
    }
    let again = |why: &str| match token() {
        Ok(t) => {
            let mut r = login_page(&t, &[("bad", why.to_string())], false);
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(e) => Denied::Failed(e).into_response(),
    };
    let ip = peer.ip();
    let name = field(&f, "name").to_string();
    let password = f.get("password").cloned().unwrap_or_default();
    let key = name.clone();
    let user = match w.daemon.store.call(move |db| db.web_user(&key)).await {
        Ok(u) => u,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let hash = user.as_ref().map(|u| u.password_hash.as_str());
    let outcome = w.logins.check(ip, &name, hash, &password).await;
    let user = match (outcome, user) {
        (Login::Granted, Some(user)) => user,
        (Login::Throttled, _) => {
            warn!(event = "web_login_throttled", client = %ip, "too many failed sign-ins from this address");
            return again("Too many attempts from this address: wait a minute and try again.");
        }
        _ => {
            warn!(event = "web_login_failed", client = %ip, user = %crate::http::printable(&name), "a sign-in failed");
            return again("Wrong name or password.");
        }
    };
    // Viewers cannot send: they land on the outbox.
    let landing = match Role::parse(&user.role) {
        Some(Role::Viewer) | None => "/outbox",
        Some(_) => "/send",
    };
    w.open_session(&name, landing).await
}

pub async fn logout(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    or_refuse!(w.need_form(&headers, &f, Role::Viewer).await);
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        let hash = token_hash(&t);
        if let Err(e) = w
            .daemon
            .store
            .call(move |db| db.close_web_session(&hash))
            .await
        {
            return Denied::Failed(e.to_string()).into_response();
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(std::time::Duration::ZERO)),
    );
    r
}

/// Whether `t` is the live setup token; a store that cannot say is an error, not a "no".
async fn setup_valid(w: &Web, t: &str) -> Result<bool, Denied> {
    let (hash, now) = (token_hash(t), now_ms());
    w.daemon
        .store
        .call(move |db| db.web_setup_valid(&hash, now))
        .await
        .map_err(|e| Denied::Failed(e.to_string()))
}

fn setup_page(t: &str, list: &[Notice]) -> Response {
    Html(
        plain_page(
            "Create the owner",
            html! {
                (notices(list))
                p { "The owner manages users, opt-outs and imports. Choose a name and a password of at least 10 characters." }
                form.stack method="post" action="/setup" {
                    input type="hidden" name="token" value=(t);
                    label { "Name" input name="name" autocomplete="username" required; }
                    label { "Password" input name="password" type="password" autocomplete="new-password" required; }
                    label { "Password again" input name="password2" type="password" autocomplete="new-password" required; }
                    button type="submit" { "Create and sign in" }
                }
            },
        )
        .into_string(),
    )
    .into_response()
}

pub async fn setup_form(State(w): State<Arc<Web>>, Query(q): Query<Fields>) -> Response {
    let t = field(&q, "token");
    if !or_refuse!(setup_valid(&w, t).await) {
        return (
            StatusCode::FORBIDDEN,
            Html(plain_page("Setup link not valid", html! { p { "This link was used already, has expired, or a newer one was made. Sign in, or ask the shop's administrator for a new link (smsq web-setup)." } }).into_string()),
        )
            .into_response();
    }
    setup_page(t, &[])
}

pub async fn setup(State(w): State<Arc<Web>>, Form(f): Form<Fields>) -> Response {
    let t = field(&f, "token").to_string();
    if !or_refuse!(setup_valid(&w, &t).await) {
        return Denied::Forbidden("this setup link was used already or has expired")
            .into_response();
    }
    let (name, password) = (
        field(&f, "name"),
        f.get("password").cloned().unwrap_or_default(),
    );
    if f.get("password2") != Some(&password) {
        return setup_page(&t, &[("bad", "The two passwords differ.".into())]);
    }
    let (n, p) = (name.to_string(), password.clone());
    let owner = match tokio::task::spawn_blocking(move || new_user(&n, &p, Role::Owner)).await {
        Ok(Ok(u)) => u,
        Ok(Err(why)) => return setup_page(&t, &[("bad", why)]),
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let (hash, now) = (token_hash(&t), now_ms());
    match w
        .daemon
        .store
        .call(move |db| db.complete_web_setup(&hash, &owner, now))
        .await
    {
        Ok(true) => {
            info!(event = "web_owner_created", user = %name, "the web page's owner was created with the setup link");
            w.open_session(name, "/send").await
        }
        Ok(false) => {
            Denied::Forbidden("this setup link was used already or has expired").into_response()
        }
        Err(e) => Denied::Failed(e.to_string()).into_response(),
    }
}

// ---- Send -------------------------------------------------------------------------------

/// The Send form's values, kept when the page is shown again.
#[derive(Debug, Default)]
struct SendValues {
    to: String,
    text: String,
    class: String,
    topic: String,
    template: String,
    when: String,
    confirm_bulk: bool,
    allow_links: bool,
}

impl SendValues {
    fn from(f: &Fields) -> Self {
        Self {
            to: field(f, "to").to_string(),
            text: f.get("text").cloned().unwrap_or_default(),
            class: field(f, "class").to_string(),
            topic: field(f, "topic").to_string(),
            template: field(f, "template").to_string(),
            when: field(f, "when").to_string(),
            confirm_bulk: f.contains_key("confirm_bulk"),
            allow_links: f.contains_key("allow_links"),
        }
    }
}

async fn send_page(w: &Web, s: &Session, v: &SendValues, list: &[Notice]) -> Response {
    let templates = match w.daemon.templates().await {
        Ok(t) => t,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let topics = w.daemon.settings().care.topics.clone();
    let class = if v.class.is_empty() {
        "transactional"
    } else {
        v.class.as_str()
    };
    let body = html! {
        (notices(list))
        form.stack method="post" action="/send" {
            (csrf(s))
            label {
                "To"
                input name="to" value=(v.to) placeholder="0917 123 4567, Ana Reyes, #vip" required;
                span.muted { "Numbers, contact names or #tags, separated by commas." }
            }
            label {
                "Text"
                textarea #text name="text" maxlength="1600" { (v.text) }
                span #counter .counter aria-live="polite" {}
            }
            div.row {
                label {
                    "Template (instead of the text)"
                    select name="template" {
                        option value="" { "—" }
                        @for t in &templates {
                            option value=(t.name) selected[t.name == v.template] { (t.name) " (" (t.class) ")" }
                        }
                    }
                }
                label {
                    "Kind"
                    select name="class" {
                        @for c in ["transactional", "reply", "marketing", "survey"] {
                            option value=(c) selected[c == class] { (c) }
                        }
                    }
                }
                label {
                    "Topic"
                    select name="topic" {
                        option value="" { "—" }
                        @for t in &topics {
                            option value=(t) selected[*t == v.topic] { (t) }
                        }
                    }
                }
                label {
                    "Send at (shop time; empty: now)"
                    input type="datetime-local" name="when" value=(v.when);
                }
            }
            div.row {
                label.check { input type="checkbox" name="confirm_bulk" checked[v.confirm_bulk]; "Yes, send to many recipients" }
                label.check { input type="checkbox" name="allow_links" checked[v.allow_links]; "Yes, the link is needed" }
            }
            div.row {
                button.plain type="submit" formaction="/send/check" { "Check first" }
                button type="submit" #send { "Send" }
            }
        }
    };
    frame(w, s, "/send", "Send", body)
}

pub async fn send_form(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Staff).await);
    let v = SendValues {
        to: field(&q, "to").to_string(),
        ..Default::default()
    };
    send_page(&w, &s, &v, &[]).await
}

/// The request the form describes: recipients read (numbers, contact names, #tags), times
/// in the shop's zone.
async fn submission(w: &Web, s: &Session, v: &SendValues) -> Result<Submission, String> {
    let mut recipients = Vec::new();
    let mut all_contacts = None;
    for item in
        v.to.split([',', ';', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
    {
        if let Some(tag) = item.strip_prefix('#') {
            let found = w
                .daemon
                .contacts(vec![tag.to_string()], None, 100_000)
                .await
                .map_err(|e| e.to_string())?;
            if found.is_empty() {
                return Err(format!("no contact has the tag #{tag}"));
            }
            recipients.extend(found.into_iter().map(|c| c.number));
        } else if item.chars().any(|c| c.is_ascii_digit()) {
            recipients.push(item.to_string());
        } else {
            if all_contacts.is_none() {
                all_contacts = Some(
                    w.daemon
                        .contacts(Vec::new(), None, 100_000)
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let found = all_contacts.as_ref().and_then(|list| {
                list.iter().find(|c| {
                    c.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(item))
                })
            });
            match found {
                Some(c) => recipients.push(c.number.clone()),
                None => return Err(format!("no contact is named {item:?}")),
            }
        }
    }
    if recipients.is_empty() {
        return Err("give at least one recipient".into());
    }
    let mut sub = Submission::new(recipients, v.text.clone());
    sub.class = Class::parse(if v.class.is_empty() {
        "transactional"
    } else {
        &v.class
    })
    .filter(|c| *c != Class::System)
    .ok_or("choose a kind of message")?;
    sub.topic = (!v.topic.is_empty()).then(|| v.topic.clone());
    sub.template = (!v.template.is_empty()).then(|| v.template.clone());
    if !v.when.is_empty() {
        let zone = w.daemon.settings().time_zone;
        sub.not_before =
            Some(crate::time::parse_time(&v.when, &zone).map_err(|e| format!("send at: {e}"))?);
    }
    sub.confirm_bulk = v.confirm_bulk;
    sub.allow_links = v.allow_links;
    sub.client_ref = Some(format!("web:{}", s.user));
    Ok(sub)
}

pub async fn send_check(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    let v = SendValues::from(&f);
    let sub = match submission(&w, &s, &v).await {
        Ok(sub) => sub,
        Err(why) => return send_page(&w, &s, &v, &[("bad", why)]).await,
    };
    let mut list: Vec<Notice> = Vec::new();
    match w.daemon.preview_send(&sub).await {
        Err(e) => list.push(("bad", e.to_string())),
        Ok(previews) => {
            let mut fine = 0;
            for p in &previews {
                let to = s.number(&p.to);
                match &p.decision {
                    Decision::Refuse { code, reason } => {
                        list.push(("bad", format!("{to}: will be refused ({code}): {reason}")))
                    }
                    Decision::Hold { until } => list.push((
                        "warn",
                        format!("{to}: waits for decent hours, until {}", local(&w, *until)),
                    )),
                    Decision::Send => match &p.late_note {
                        Some(note) => list.push(("warn", format!("{to}: {note}"))),
                        None => fine += 1,
                    },
                }
            }
            if fine > 0 {
                list.push(("ok", format!("{fine} recipient(s) can be texted now.")));
            }
        }
    }
    if sub.template.is_none()
        && let Ok(e) = w.daemon.estimate(&sub.text, "auto")
    {
        list.push((
            "",
            format!(
                "{} part(s), {}{}",
                e.parts,
                e.alphabet.name(),
                if e.forced_ucs2_by.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; UCS-2 because of: {}",
                        e.forced_ucs2_by
                            .iter()
                            .map(|c| c.character.to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
            ),
        ));
    }
    send_page(&w, &s, &v, &list).await
}

pub async fn send(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    let v = SendValues::from(&f);
    let sub = match submission(&w, &s, &v).await {
        Ok(sub) => sub,
        Err(why) => return send_page(&w, &s, &v, &[("bad", why)]).await,
    };
    let count = sub.recipients.len();
    match w.daemon.submit(sub, Peer::default()).await {
        Ok(queued) => {
            info!(event = "web_send", user = %s.user, recipients = count, messages = ?queued.iter().map(|q| q.id).collect::<Vec<_>>(), "queued from the web page");
            let refused: Vec<Notice> = queued
                .iter()
                .filter_map(|q| {
                    q.refusal.as_ref().map(|(code, why)| {
                        (
                            "bad",
                            format!("{}: refused ({code}): {why}", s.number(&q.to)),
                        )
                    })
                })
                .collect();
            if refused.is_empty() {
                Redirect::to("/outbox?ok=queued").into_response()
            } else {
                send_page(&w, &s, &v, &refused).await
            }
        }
        Err(e) => {
            info!(event = "web_send_refused", user = %s.user, recipients = count, error = %e, "a send from the web page was refused");
            let why = match &e {
                crate::daemon::Error::Refused { code, message } => {
                    format!("Refused ({code}): {message}")
                }
                other => format!("Not sent: {other}"),
            };
            send_page(&w, &s, &v, &[("bad", why)]).await
        }
    }
}

pub async fn estimate(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    or_refuse!(w.need(&headers, Role::Viewer).await);
    let text = q.get("text").cloned().unwrap_or_default();
    let encoding = q.get("encoding").map_or("auto", String::as_str);
    let body = match w.daemon.estimate(&text, encoding) {
        Ok(e) => serde_json::json!({
            "chars": text.chars().count(),
            "parts": e.parts,
            "alphabet": e.alphabet.name(),
            "units": e.units,
            "per_part": e.units_per_part,
            "left": e.units_left,
            "forced": e.forced_ucs2_by.iter().map(|c| c.character.to_string()).collect::<Vec<_>>(),
        }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

// ---- Outbox -----------------------------------------------------------------------------

pub async fn outbox(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Viewer).await);
    outbox_page(&w, &s, &q, done(&q)).await
}

async fn outbox_page(w: &Web, s: &Session, q: &Fields, list: Vec<Notice>) -> Response {
    let state = MessageState::parse(field(q, "state"));
    let class = Class::parse(field(q, "class"));
    let rows = match w
        .daemon
        .outbox(state.into_iter().collect(), None, 300)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|m| class.is_none_or(|c| m.class == c))
        .collect();
    let body = html! {
        (notices(&list))
        form.row method="get" action="/outbox" {
            label {
                "State"
                select name="state" {
                    option value="" { "all" }
                    @for st in MessageState::ALL {
                        option value=(st.as_str()) selected[state == Some(st)] { (st.as_str()) }
                    }
                }
            }
            label {
                "Kind"
                select name="class" {
                    option value="" { "all" }
                    @for c in ["transactional", "reply", "marketing", "survey", "system"] {
                        option value=(c) selected[class.is_some_and(|x| x.as_str() == c)] { (c) }
                    }
                }
            }
            button.plain type="submit" { "Filter" }
        }
        div.table {
            table #outbox {
                thead { tr { th { "#" } th { "To" } th { "Text" } th { "Kind" } th { "State" } th { "Updated" } th {} } }
                tbody {
                    @for m in &rows {
                        tr data-id=(m.id) {
                            td { (m.id) }
                            td { (s.number(&m.recipient)) }
                            td.text { (m.body) }
                            td { (m.class) }
                            td { span class={ "state " (m.state.as_str()) } { (m.state.as_str()) }
                                 @if let Some(e) = &m.last_error { br; span.muted { (e) } } }
                            td { (local(w, m.updated_at)) }
                            td {
                                @if s.role >= Role::Staff {
                                    @if matches!(m.state, MessageState::Failed | MessageState::Expired | MessageState::Unknown) {
                                        form.inline method="post" action={ "/outbox/" (m.id) "/retry" } {
                                            (csrf(s)) button.plain type="submit" { "Retry" }
                                        }
                                    }
                                    @if matches!(m.state, MessageState::Queued | MessageState::Held) {
                                        form.inline method="post" action={ "/outbox/" (m.id) "/cancel" } {
                                            (csrf(s)) button.plain type="submit" data-confirm="Cancel this message?" { "Cancel" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "Nothing here." } }
    };
    frame(w, s, "/outbox", "Outbox", body)
}

pub async fn outbox_action(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    let result = match action.as_str() {
        "retry" => w.daemon.retry(id).await.map(|()| "retried"),
        "cancel" => w.daemon.cancel(id).await.map(|()| "cancelled"),
        _ => return Denied::Forbidden("no such action").into_response(),
    };
    match result {
        Ok(code) => {
            info!(event = "web_outbox_action", user = %s.user, message = id, action = %action, "changed from the web page");
            Redirect::to(&format!("/outbox?ok={code}")).into_response()
        }
        Err(e) => outbox_page(&w, &s, &Fields::new(), vec![("bad", e.to_string())]).await,
    }
}

// ---- Conversations ----------------------------------------------------------------------

/// A number as a path segment.
fn path_number(n: &str) -> String {
    crate::http::escapes::encode(n)
}

pub async fn threads(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Viewer).await);
    let rows = match w.daemon.threads(false, 300).await {
        Ok(r) => r,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let body = html! {
        (notices(&done(&q)))
        div.table {
            table #threads {
                thead { tr { th { "Customer" } th { "Last message" } th { "Waiting for an answer" } } }
                tbody {
                    @for t in &rows {
                        @let waiting = match (t.last_received_at, t.last_sent_at) {
                            (Some(r), Some(s)) if r > s => Some(r),
                            (Some(r), None) => Some(r),
                            _ => None,
                        };
                        tr {
                            td {
                                @if s.role >= Role::Staff {
                                    a href={ "/threads/" (path_number(&t.number)) } { (t.number) }
                                } @else { (s.number(&t.number)) }
                            }
                            td.text { (t.last_text.as_deref().unwrap_or("")) }
                            td { @if let Some(at) = waiting { span.state.held { (age(at)) } } @else { span.muted { "answered" } } }
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No open conversations." } }
    };
    frame(&w, &s, "/threads", "Conversations", body)
}

async fn thread_page(
    w: &Web,
    s: &Session,
    number: &str,
    list: Vec<Notice>,
    draft: &str,
) -> Response {
    let (number, entries) = match w.daemon.conversation(number, 500).await {
        Ok(c) => c,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let body = html! {
        (notices(&list))
        div.thread #conversation {
            @for e in &entries {
                @match e {
                    ThreadEntry::Received(m) => {
                        div.bubble.in { (m.body.as_deref().unwrap_or("(no text)")) br; span.muted { (local(w, m.received_at)) } }
                    }
                    ThreadEntry::Sent(m) => {
                        div.bubble.out { (m.body) br; span.muted { (local(w, m.created_at)) " · " (m.state.as_str()) } }
                    }
                }
            }
        }
        form.stack method="post" action={ "/threads/" (path_number(&number)) "/reply" } {
            (csrf(s))
            label { "Reply" textarea #text name="text" required { (draft) } span #counter .counter {} }
            button type="submit" { "Send reply" }
        }
        form.inline #resolve method="post" action={ "/threads/" (path_number(&number)) "/resolve" } {
            (csrf(s))
            button.plain type="submit" { "Mark resolved" }
            span.muted { " It leaves the list until the customer writes again." }
        }
    };
    frame(
        w,
        s,
        "/threads",
        &format!("Conversation with {number}"),
        body,
    )
}

pub async fn thread(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Staff).await);
    thread_page(&w, &s, &number, done(&q), "").await
}

pub async fn thread_reply(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    let text = f.get("text").cloned().unwrap_or_default();
    match w.daemon.reply(&number, &text, Peer::default()).await {
        Ok(q) => {
            info!(event = "web_reply", user = %s.user, message = q.id, "reply queued from the web page");
            match w.daemon.customer_number(&number) {
                Ok(n) => Redirect::to(&format!("/threads/{}?ok=replied", path_number(&n)))
                    .into_response(),
                Err(_) => Redirect::to("/threads").into_response(),
            }
        }
        Err(e) => {
            thread_page(
                &w,
                &s,
                &number,
                vec![("bad", format!("Not sent: {e}"))],
                &text,
            )
            .await
        }
    }
}

pub async fn thread_resolve(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    match w.daemon.set_thread_state(&number, false).await {
        Ok(_) => {
            info!(event = "web_thread_resolved", user = %s.user, "a conversation was marked resolved");
            Redirect::to("/threads?ok=resolved").into_response()
        }
        Err(e) => thread_page(&w, &s, &number, vec![("bad", e.to_string())], "").await,
    }
}

// ---- Contacts ---------------------------------------------------------------------------

async fn contacts_page(
    w: &Web,
    s: &Session,
    q: &Fields,
    list: Vec<Notice>,
    report: Option<Markup>,
) -> Response {
    let tags: Vec<String> = (!field(q, "tag").is_empty())
        .then(|| field(q, "tag").trim_start_matches('#').to_string())
        .into_iter()
        .collect();
    let mut found = match w.daemon.contacts(tags, None, 100_000).await {
        Ok(c) => c,
        Err(e) => {
            return frame(
                w,
                s,
                "/contacts",
                "Contacts",
                notices(&[("bad", e.to_string())]),
            );
        }
    };
    let needle = field(q, "q").to_lowercase();
    if !needle.is_empty() {
        found.retain(|c| {
            c.number.contains(&needle)
                || c.name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&needle))
        });
    }
    found.truncate(500);
    let numbers: Vec<String> = found.iter().map(|c| c.number.clone()).collect();
    let consent = match w
        .daemon
        .store
        .call(move |db| db.consent_now(&numbers))
        .await
    {
        Ok(c) => c,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let body = html! {
        (notices(&list))
        @if let Some(r) = report { (r) }
        form.row method="get" action="/contacts" {
            label { "Search" input name="q" value=(field(q, "q")) placeholder="name or number"; }
            label { "Tag" input name="tag" value=(field(q, "tag")) placeholder="vip"; }
            button.plain type="submit" { "Search" }
        }
        div.table {
            table #contacts {
                thead { tr { th { "Name" } th { "Number" } th { "Tags" } th { "Consent" } } }
                tbody {
                    @for (c, state) in found.iter().zip(&consent) {
                        tr {
                            td { (c.name.as_deref().unwrap_or("")) }
                            td { (s.number(&c.number)) }
                            td { @for t in &c.tags { "#" (t) " " } }
                            td { (match state {
                                Some(ConsentState::Granted) => "granted",
                                Some(ConsentState::Pending) => "waiting for YES",
                                Some(ConsentState::Revoked) => "opted out",
                                None => "—",
                            }) }
                        }
                    }
                }
            }
        }
        @if s.role >= Role::Staff {
            h2 { "Add a contact" }
            form.stack #add-contact method="post" action="/contacts" {
                (csrf(s))
                div.row {
                    label { "Number" input name="number" required; }
                    label { "Name" input name="name"; }
                    label { "Tags" input name="tags" placeholder="vip repair"; }
                }
                button type="submit" { "Add" }
            }
        }
        @if s.role >= Role::Owner {
            h2 { "Import a customer list (CSV)" }
            form.stack method="post" action="/contacts/import" {
                (csrf(s))
                label { "File" input #csv-file type="file" accept=".csv,text/csv"; }
                label { "CSV (a header row with number, and name, tags, consent … as you have them)"
                    textarea #csv name="csv" required {} }
                div.row {
                    label { "Tag everyone" input name="tag"; }
                    label { "Words they agreed to (when the file has a consent column)" input name="text_shown"; }
                }
                label.check { input type="checkbox" name="dry_run" checked; "Only show what would change" }
                button type="submit" { "Import" }
            }
        }
    };
    frame(w, s, "/contacts", "Contacts", body)
}

pub async fn contacts(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Viewer).await);
    contacts_page(&w, &s, &q, done(&q), None).await
}

pub async fn contact_add(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    let edit = crate::daemon::ContactEdit {
        number: field(&f, "number").to_string(),
        name: Some(field(&f, "name").to_string()).filter(|n| !n.is_empty()),
        add_tags: field(&f, "tags")
            .split([' ', ','])
            .filter(|t| !t.is_empty())
            .map(|t| t.trim_start_matches('#').to_string())
            .collect(),
        ..Default::default()
    };
    match w.daemon.save_contact(edit, true).await {
        Ok(_) => Redirect::to("/contacts?ok=contact").into_response(),
        Err(e) => contacts_page(&w, &s, &Fields::new(), vec![("bad", e.to_string())], None).await,
    }
}

pub async fn contacts_import(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Owner).await);
    let dry_run = f.contains_key("dry_run");
    let (rows, _) = match crate::sheet::read(field(&f, "csv").as_bytes()) {
        Ok(r) => r,
        Err(e) => {
            return contacts_page(
                &w,
                &s,
                &Fields::new(),
                vec![("bad", format!("The list cannot be read: {e}"))],
                None,
            )
            .await;
        }
    };
    let consent = ImportConsent {
        source: None,
        text_shown: Some(field(&f, "text_shown").to_string()).filter(|t| !t.is_empty()),
        evidence: Some(format!("web import by {}", s.user)),
        actor: Some(s.user.clone()),
    };
    let tag = Some(field(&f, "tag").to_string()).filter(|t| !t.is_empty());
    match w.daemon.import_contacts(rows, tag, consent, dry_run).await {
        Ok(results) => {
            let report = html! {
                p.notice.(if dry_run { "warn" } else { "ok" }) {
                    @if dry_run { "Dry run: nothing was changed. Untick the box to import." } @else { "Imported." }
                }
                div.table { table #import {
                    thead { tr { th { "Line" } th { "Number" } th { "What happens" } th { "Consent" } th { "Why" } } }
                    tbody { @for r in &results { tr {
                        td { (r.line) } td { (r.number.as_deref().map(|n| s.number(n)).unwrap_or_default()) }
                        td { (r.outcome) } td { (r.consent) } td { (r.reason.as_deref().unwrap_or("")) }
                    } } }
                } }
            };
            info!(event = "web_import", user = %s.user, rows = results.len(), dry_run, "contacts import from the web page");
            contacts_page(&w, &s, &Fields::new(), Vec::new(), Some(report)).await
        }
        Err(e) => contacts_page(&w, &s, &Fields::new(), vec![("bad", e.to_string())], None).await,
    }
}

// ---- Opt-outs ---------------------------------------------------------------------------

async fn optouts_page(w: &Web, s: &Session, list: Vec<Notice>) -> Response {
    let rows = match w.daemon.store.call(|db| db.opted_out(1000)).await {
        Ok(r) => r,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let body = html! {
        (notices(&list))
        div.table {
            table #optouts {
                thead { tr { th { "Number" } th { "Since" } th { "How" } th { "Note" } th { "By" } @if s.role >= Role::Owner { th {} } } }
                tbody {
                    @for e in &rows {
                        tr {
                            td { (s.number(&e.number)) }
                            td { (local(w, e.at)) }
                            td { (e.source) }
                            td.text { (e.evidence.as_deref().unwrap_or("")) }
                            td { (e.actor.as_deref().unwrap_or("")) }
                            @if s.role >= Role::Owner {
                                td {
                                    details {
                                        summary { "Opt back in…" }
                                        form.stack method="post" action="/optouts" {
                                            (csrf(s))
                                            input type="hidden" name="action" value="in";
                                            input type="hidden" name="number" value=(e.number);
                                            label { "Why (required)" input name="note" required; }
                                            label { "The words the customer agreed to (required)" input name="text_shown" required; }
                                            button type="submit" { "Opt back in" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No one has opted out." } }
        @if s.role >= Role::Owner {
            h2 { "Opt a number out" }
            form.stack #opt-out method="post" action="/optouts" {
                (csrf(s))
                input type="hidden" name="action" value="out";
                div.row {
                    label { "Number" input name="number" required; }
                    label { "Why (required)" input name="note" required placeholder="asked at the counter"; }
                }
                button type="submit" { "Opt out" }
            }
        }
    };
    frame(w, s, "/optouts", "Opt-outs", body)
}

pub async fn optouts(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Viewer).await);
    optouts_page(&w, &s, done(&q)).await
}

pub async fn optout_change(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Owner).await);
    let note = field(&f, "note");
    if note.is_empty() {
        return optouts_page(
            &w,
            &s,
            vec![("bad", "Every change needs a note saying why.".into())],
        )
        .await;
    }
    let grant = field(&f, "action") == "in";
    let record = ConsentRecord {
        number: field(&f, "number").to_string(),
        topic: None,
        grant,
        source: ConsentSource::Operator,
        evidence: Some(note.to_string()),
        text_shown: Some(field(&f, "text_shown").to_string()).filter(|t| !t.is_empty()),
        actor: Some(s.user.clone()),
    };
    match w.daemon.record_consent(record).await {
        Ok(_) => {
            info!(event = "web_consent_change", user = %s.user, grant, "consent changed from the web page");
            Redirect::to(if grant {
                "/optouts?ok=optin"
            } else {
                "/optouts?ok=optout"
            })
            .into_response()
        }
        Err(e) => optouts_page(&w, &s, vec![("bad", e.to_string())]).await,
    }
}

// ---- Modems -----------------------------------------------------------------------------

async fn modems_page(w: &Web, s: &Session, list: Vec<Notice>) -> Response {
    let reports = match w.daemon.modems().await {
        Ok(r) => r,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let rules = w.daemon.rules();
    let body = html! {
        (notices(&list))
        div.table {
            table #modems {
                thead { tr { th { "Modem" } th { "State" } th { "Network" } th { "Signal" } th { "Queue" } th { "Sent today" } } }
                tbody {
                    @for (k, m) in reports.iter().enumerate() {
                        tr {
                            td { (m.id) }
                            td { span class={ "state " (if m.status.state.name() == "ready" { "sent" } else { "failed" }) } { (m.status.state.name()) }
                                 @if let Some(e) = &m.store_error { br; span.muted { (e) } } }
                            td { (m.status.operator.as_deref().unwrap_or("—")) @if !m.status.is_registered() { " (not registered)" } }
                            td { @if let Some(dbm) = m.status.signal_dbm { (dbm) " dBm" } @else { "—" } }
                            td { (m.queue_depth) }
                            td { (m.sent_today) @if let Some(cap) = rules.get(k).and_then(|r| r.daily_cap) { " of " (cap) } }
                        }
                    }
                }
            }
        }
        @if s.role >= Role::Staff {
            h2 { "Balance and other codes (USSD)" }
            form.stack method="post" action="/modems/ussd" {
                (csrf(s))
                div.row {
                    label { "Modem" select name="modem" { @for m in &reports { option value=(m.id) { (m.id) } } } }
                    label { "Code" input name="code" required placeholder="*143#"; }
                }
                button type="submit" { "Ask" }
            }
        }
    };
    frame(w, s, "/modems", "Modems", body)
}

pub async fn modems(State(w): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Viewer).await);
    modems_page(&w, &s, Vec::new()).await
}

pub async fn ussd(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Staff).await);
    let code = match crate::at::command::UssdString::parse(field(&f, "code")) {
        Ok(c) => c,
        Err(e) => return modems_page(&w, &s, vec![("bad", format!("Not a USSD code: {e}"))]).await,
    };
    let modem = Some(field(&f, "modem")).filter(|m| !m.is_empty());
    match w.daemon.ussd(&code, modem).await {
        Ok((modem, answer)) => {
            info!(event = "web_ussd", user = %s.user, modem = %modem, "USSD from the web page");
            modems_page(&w, &s, vec![("ok", format!("{modem}: {answer}"))]).await
        }
        Err(e) => modems_page(&w, &s, vec![("bad", e.to_string())]).await,
    }
}

// ---- Users ------------------------------------------------------------------------------

async fn users_page(w: &Web, s: &Session, list: Vec<Notice>) -> Response {
    let users = match w.daemon.store.call(|db| db.web_users()).await {
        Ok(u) => u,
        Err(e) => return Denied::Failed(e.to_string()).into_response(),
    };
    let body = html! {
        (notices(&list))
        div.table {
            table #users {
                thead { tr { th { "Name" } th { "Role" } th { "Since" } th {} } }
                tbody {
                    @for u in &users {
                        tr {
                            td { (u.name) } td { (u.role) } td { (local(w, u.created_at)) }
                            td {
                                @if u.name != s.user {
                                    form.inline method="post" action="/users" {
                                        (csrf(s))
                                        input type="hidden" name="action" value="remove";
                                        input type="hidden" name="name" value=(u.name);
                                        button.plain type="submit" data-confirm="Remove this user?" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a user" }
        form.stack #add-user method="post" action="/users" {
            (csrf(s))
            input type="hidden" name="action" value="add";
            div.row {
                label { "Name" input name="name" required; }
                label { "Role" select name="role" {
                    option value="staff" { "staff: send, reply, contacts" }
                    option value="viewer" { "viewer: reads, numbers hidden" }
                    option value="owner" { "owner: everything" }
                } }
                label { "Password (10 characters or more)" input name="password" type="password" autocomplete="new-password" required; }
            }
            button type="submit" { "Add" }
        }
    };
    frame(w, s, "/users", "Users", body)
}

pub async fn users(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let s = or_refuse!(w.need(&headers, Role::Owner).await);
    users_page(&w, &s, done(&q)).await
}

pub async fn user_change(
    State(w): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    let s = or_refuse!(w.need_form(&headers, &f, Role::Owner).await);
    let name = field(&f, "name").to_string();
    match field(&f, "action") {
        "add" => {
            let Some(role) = Role::parse(field(&f, "role")) else {
                return users_page(&w, &s, vec![("bad", "Choose a role.".into())]).await;
            };
            let (n, p) = (name.clone(), f.get("password").cloned().unwrap_or_default());
            let user = match tokio::task::spawn_blocking(move || new_user(&n, &p, role)).await {
                Ok(Ok(u)) => u,
                Ok(Err(why)) => return users_page(&w, &s, vec![("bad", why)]).await,
                Err(e) => return Denied::Failed(e.to_string()).into_response(),
            };
            match w.daemon.store.call(move |db| db.add_web_user(&user)).await {
                Ok(true) => {
                    info!(event = "web_user_added", by = %s.user, user = %name, role = role.as_str(), "web user added");
                    Redirect::to("/users?ok=user").into_response()
                }
                Ok(false) => {
                    users_page(
                        &w,
                        &s,
                        vec![("bad", format!("There is a user {name} already."))],
                    )
                    .await
                }
                Err(e) => Denied::Failed(e.to_string()).into_response(),
            }
        }
        "remove" => {
            let key = name.clone();
            match w
                .daemon
                .store
                .call(move |db| db.remove_web_user(&key))
                .await
            {
                Ok(true) => {
                    info!(event = "web_user_removed", by = %s.user, user = %name, "web user removed");
                    Redirect::to("/users?ok=removed").into_response()
                }
                Ok(false) => {
                    users_page(
                        &w,
                        &s,
                        vec![("bad", "No such user, or the last owner.".into())],
                    )
                    .await
                }
                Err(e) => Denied::Failed(e.to_string()).into_response(),
            }
        }
        _ => Denied::Forbidden("no such action").into_response(),
    }
}
