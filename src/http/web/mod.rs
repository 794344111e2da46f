//! The shop's web page: Send, Outbox, Conversations, Contacts, Opt-outs, Modems and Users,
//! server-rendered (maud escapes every value it is given, so no customer's or operator's
//! text can become markup), with a little JavaScript that every page works without.
//!
//! Security (CC-5.1–5.4): loopback unless configured otherwise; no default account: while
//! there is none, smsqd logs a one-time setup link that creates the owner; roles `owner`
//! (everything), `staff` (send, reply, retry, cancel, contacts) and `viewer` (reads, with
//! numbers masked); sessions in an `HttpOnly; SameSite=Strict` cookie whose token only a hash
//! of is stored; every state change is a POST that carries the session's CSRF token and
//! comes from this origin; no GET changes anything; logins throttled per address; a strict
//! Content-Security-Policy (no inline script) behind the escaping.

mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use tracing::{info, warn};

use super::auth::Logins;
use crate::daemon::Daemon;
use crate::store::{WebSession, WebUser};
use crate::time::now_ms;

const SESSION_COOKIE: &str = "smsq_session";
const LOGIN_COOKIE: &str = "smsq_login";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Host names the page is reached by, besides loopback and its own address.
    pub allowed_hosts: Vec<String>,
    /// How long a session lasts.
    pub session: Duration,
}

pub struct Web {
    pub daemon: Arc<Daemon>,
    pub settings: Settings,
    logins: Arc<Logins>,
}

impl Web {
    pub fn new(daemon: Arc<Daemon>, settings: Settings) -> Self {
        Self {
            daemon,
            settings,
            logins: Logins::new(5, Duration::from_secs(60)),
        }
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Staff,
    Owner,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "staff" => Some(Self::Staff),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Staff => "staff",
            Self::Owner => "owner",
        }
    }
}

/// A signed-in user, for one request.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
}

impl Session {
    /// A number as this user may see it: masked for viewers.
    pub fn number(&self, n: &str) -> String {
        if self.role == Role::Viewer {
            crate::phone::hide(n)
        } else {
            n.to_string()
        }
    }
}

/// 32 random bytes in hex: session and CSRF tokens.
fn token() -> Result<String, String> {
    crate::daemon::access::random_token().map_err(|e| e.to_string())
}

use crate::daemon::access::token_hash;

/// Equal in time whatever the inputs, so that a token cannot be guessed byte by byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
    let age = max_age.map_or(String::new(), |d| format!("; Max-Age={}", d.as_secs()));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}"
    ))
    .expect("cookie values are hex")
}

/// Why a request cannot go on: to the login page, or a refusal with a page of its own.
pub enum Denied {
    Login,
    Forbidden(&'static str),
    Failed(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to("/login").into_response(),
            Self::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                Html(bare("Not allowed", why).into_string()),
            )
                .into_response(),
            Self::Failed(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(bare("Something failed", &why).into_string()),
            )
                .into_response(),
        }
    }
}

impl Web {
    /// The session the request's cookie names, if it is live.
    async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, Denied> {
        let Some(t) = cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let (hash, now) = (token_hash(&t), now_ms());
        let found: Option<WebSession> = self
            .daemon
            .store
            .call(move |db| db.web_session(&hash, now))
            .await
            .map_err(|e| Denied::Failed(e.to_string()))?;
        Ok(found.map(|s| Session {
            role: Role::parse(&s.user.role).unwrap_or(Role::Viewer),
            user: s.user.name,
            csrf: s.csrf,
        }))
    }

    /// The signed-in user, with at least `role`.
    pub async fn need(&self, headers: &HeaderMap, role: Role) -> Result<Session, Denied> {
        let s = self.session(headers).await?.ok_or(Denied::Login)?;
        if s.role < role {
            return Err(Denied::Forbidden("your role does not allow this"));
        }
        Ok(s)
    }

    /// Like [`Web::need`], for a form: it must carry the session's CSRF token.
    pub async fn need_form(
        &self,
        headers: &HeaderMap,
        form: &std::collections::HashMap<String, String>,
        role: Role,
    ) -> Result<Session, Denied> {
        let s = self.session(headers).await?.ok_or(Denied::Login)?;
        let ok = form.get("csrf").is_some_and(|t| same(t, &s.csrf));
        if !ok {
            warn!(event = "web_csrf_refused", user = %s.user, "a form without this session's token was refused");
            return Err(Denied::Forbidden(
                "this form is out of date or came from another site: reload the page and try again",
            ));
        }
        if s.role < role {
            return Err(Denied::Forbidden("your role does not allow this"));
        }
        Ok(s)
    }

    /// Opens a session for `user` and sends the browser to `to`.
    async fn open_session(&self, user: &str, to: &str) -> Response {
        let (t, csrf) = match (token(), token()) {
            (Ok(t), Ok(c)) => (t, c),
            (Err(e), _) | (_, Err(e)) => return Denied::Failed(e).into_response(),
        };
        let (hash, name, now) = (token_hash(&t), user.to_string(), now_ms());
        let until = now + self.settings.session.as_millis() as i64;
        if let Err(e) = self
            .daemon
            .store
            .call(move |db| db.open_web_session(&hash, &name, &csrf, now, until))
            .await
        {
            return Denied::Failed(e.to_string()).into_response();
        }
        info!(event = "web_login", user = %user, "signed in to the web page");
        let mut r = Redirect::to(to).into_response();
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, &t, Some(self.settings.session)),
        );
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(LOGIN_COOKIE, "", Some(Duration::ZERO)),
        );
        r
    }
}

/// While no one can sign in, makes a one-time setup link and logs it (the journal is where
/// the shop's administrator looks); a link from an earlier start stops working. Later,
/// `smsq web-setup` makes another (a lost owner password).
pub async fn announce_setup(w: &Web) -> Result<(), String> {
    let users = w
        .daemon
        .store
        .call(|db| db.web_users())
        .await
        .map_err(|e| e.to_string())?;
    if !users.is_empty() {
        return Ok(());
    }
    let link = w
        .daemon
        .issue_setup_link()
        .await
        .map_err(|e| e.to_string())?;
    warn!(
        event = "web_setup_link",
        "the web page has no account yet: open {} within {} hours to create the owner (the link works once)",
        link.url,
        crate::daemon::access::SETUP_VALID.as_secs() / 3600
    );
    Ok(())
}

/// Headers every page carries: no framing, no sniffing, no caching, scripts and styles from
/// this origin only.
async fn page_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// A page with no navigation (sign-in, setup, refusals).
pub(super) fn plain_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · smsq" }
                link rel="stylesheet" href="/static/app.css";
            }
            body { main { h1 { (title) } (body) } }
        }
    }
}

/// A plain page saying `message`, with a way back.
fn bare(title: &str, message: &str) -> Markup {
    plain_page(title, html! { p { (message) } p { a href="/" { "Back" } } })
}

pub fn router(w: Arc<Web>) -> axum::Router {
    use axum::routing::{get, post};
    let guard = super::Guard::new(w.settings.listen, &w.settings.allowed_hosts, false)
        .same_origin_for_changes();
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/send") }))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/setup", get(pages::setup_form).post(pages::setup))
        .route("/send", get(pages::send_form).post(pages::send))
        .route("/send/check", post(pages::send_check))
        .route("/api/estimate", get(pages::estimate))
        .route("/outbox", get(pages::outbox))
        .route("/outbox/{id}/{action}", post(pages::outbox_action))
        .route("/threads", get(pages::threads))
        .route("/threads/{number}", get(pages::thread))
        .route("/threads/{number}/reply", post(pages::thread_reply))
        .route("/threads/{number}/resolve", post(pages::thread_resolve))
        .route("/contacts", get(pages::contacts).post(pages::contact_add))
        .route("/contacts/import", post(pages::contacts_import))
        .route("/optouts", get(pages::optouts).post(pages::optout_change))
        .route("/modems", get(pages::modems))
        .route("/modems/ussd", post(pages::ussd))
        .route("/users", get(pages::users).post(pages::user_change))
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Html(bare("Not found", "There is no such page.").into_string()),
            )
        })
        .with_state(w)
        .layer(axum::extract::DefaultBodyLimit::max(2 * 1024 * 1024))
        .layer(axum::middleware::from_fn(page_headers))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            super::guard,
        ))
}

/// The signed-in page frame: the shop's name, the pages this role may open, the body.
pub fn frame(w: &Web, s: &Session, here: &str, title: &str, body: Markup) -> Response {
    let shop = w.daemon.settings().care.shop_name.clone();
    let links: &[(&str, &str, Role)] = &[
        ("/send", "Send", Role::Staff),
        ("/outbox", "Outbox", Role::Viewer),
        ("/threads", "Conversations", Role::Viewer),
        ("/contacts", "Contacts", Role::Viewer),
        ("/optouts", "Opt-outs", Role::Viewer),
        ("/modems", "Modems", Role::Viewer),
        ("/users", "Users", Role::Owner),
    ];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (shop) }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header {
                    span.shop { (shop) }
                    nav {
                        @for (href, name, role) in links {
                            @if s.role >= *role {
                                a href=(href) class=[(*href == here).then_some("here")] { (name) }
                            }
                        }
                    }
                    form.inline method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        span.muted { (s.user) " (" (s.role.as_str()) ") " }
                        button.plain type="submit" { "Sign out" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(page.into_string()).into_response()
}

/// A new user's name and password, checked.
pub fn check_new_user(name: &str, password: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 32
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("a name of letters, digits, '.', '-' or '_' (at most 32)".into());
    }
    if password.chars().count() < 10 {
        return Err("a password of at least 10 characters".into());
    }
    if super::auth::SAMPLE_PASSWORDS.contains(&password) {
        return Err("that password is one anyone would try".into());
    }
    Ok(())
}

/// A user as stored, with the password hashed.
pub fn new_user(name: &str, password: &str, role: Role) -> Result<WebUser, String> {
    check_new_user(name, password)?;
    Ok(WebUser {
        name: name.to_string(),
        password_hash: super::auth::hash_password(password)?,
        role: role.as_str().to_string(),
        created_at: now_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_in_full() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
        assert_eq!(token_hash("x").len(), 64);
    }

    #[test]
    fn cookies_are_found_among_others_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; smsq_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        let c = set_cookie(SESSION_COOKIE, "abc", Some(Duration::from_secs(60)));
        assert_eq!(
            c.to_str().unwrap(),
            "smsq_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
    }

    #[test]
    fn roles_order_and_viewers_see_masked_numbers() {
        assert!(Role::Owner > Role::Staff && Role::Staff > Role::Viewer);
        let viewer = Session {
            user: "v".into(),
            role: Role::Viewer,
            csrf: String::new(),
        };
        assert_eq!(viewer.number("+639171234567"), "+*********567");
        let staff = Session {
            role: Role::Staff,
            ..viewer
        };
        assert_eq!(staff.number("+639171234567"), "+639171234567");
    }

    #[test]
    fn new_users_need_a_name_and_a_real_password() {
        assert!(check_new_user("ana", "long enough pw").is_ok());
        assert!(check_new_user("", "long enough pw").is_err());
        assert!(check_new_user("<b>", "long enough pw").is_err());
        assert!(check_new_user("ana", "short").is_err());
    }
}
