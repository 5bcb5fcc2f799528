//! The HTTP side: routes, handlers, and the accept loop (a connection cap, request size and
//! header-time limits, graceful shutdown shared with the other servers).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query as UrlQuery, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERRER_POLICY, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};

use super::auth::{self, SESSION_COOKIE, Session};
use super::index::{Entry, Event};
use super::query::Query;
use super::{App, assets, detail, html};
use crate::message::Document;
use crate::net::shutdown::{Shutdown, ShutdownSignal};
use crate::store::users::verify_password_hash_pooled;
use crate::store::{Maildir, StoreError, validate_name};

/// Most messages one page of a listing may have.
const MAX_LIMIT: usize = 500;
/// Longest a `wait` may block.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Largest request body (JSON for logins and flags; nothing else has a body).
const MAX_BODY: usize = 64 * 1024;
/// Largest request head, and the time a client has to send it.
const MAX_HEAD: usize = 64 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

type Shared = Arc<App>;

// ---- errors --------------------------------------------------------------------------------

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(json!({"error": self.1}))).into_response();
        r.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such message".into())
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NoSuchMessage { .. } | StoreError::InvalidName { .. } => not_found(),
        other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

fn joined() -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
}

/// `f` on tokio's blocking pool: the index and the store read files.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|_| joined())
}

type ApiResult<T> = Result<T, ApiError>;

// ---- who is asking -------------------------------------------------------------------------

/// The request's identity: `None` user when the inbox has no logins.
#[derive(Clone)]
struct Viewer {
    user: Option<String>,
    csrf: String,
}

impl Viewer {
    fn may_read(&self, mailbox: &str) -> bool {
        self.user.as_deref().is_none_or(|u| u == mailbox)
    }
}

fn viewer(app: &App, headers: &HeaderMap) -> Option<Viewer> {
    match &app.users {
        None => Some(Viewer {
            user: None,
            csrf: app.csrf.clone(),
        }),
        Some(_) => app.sessions.get(headers).map(|s: Session| Viewer {
            user: Some(s.user),
            csrf: s.csrf,
        }),
    }
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
        .entry(X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ));
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// Every request: the Host check, authentication, the CSRF check for anything that changes
/// state, and the security headers on the way out.
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !auth::host_allowed(headers, app.loopback_only) {
        return (StatusCode::MISDIRECTED_REQUEST, "unknown host\n").into_response();
    }
    let path = request.uri().path();
    let public = matches!(
        path,
        "/login" | "/assets/login.js" | "/assets/app.css" | "/api/v1/login" | "/api/v1/session"
    );
    let viewer = viewer(&app, headers);
    if !public && viewer.is_none() {
        if path.starts_with("/api/") {
            return ApiError(StatusCode::UNAUTHORIZED, "log in first".into()).into_response();
        }
        return (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response();
    }
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes && path != "/api/v1/login" {
        let token = viewer.as_ref().map(|v| v.csrf.as_str()).unwrap_or("");
        if token.is_empty() || !auth::csrf_ok(headers, token) {
            return ApiError(StatusCode::FORBIDDEN, "missing or wrong CSRF token".into())
                .into_response();
        }
    }
    let mut request = request;
    if let Some(v) = viewer {
        request.extensions_mut().insert(v);
    }
    let mut response = next.run(request).await;
    security_headers(response.headers_mut());
    response
}

fn the_viewer(request_viewer: Option<axum::Extension<Viewer>>) -> ApiResult<Viewer> {
    request_viewer
        .map(|axum::Extension(v)| v)
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "log in first".into()))
}

// ---- JSON shapes -----------------------------------------------------------------------------

fn entry_json(e: &Entry) -> Value {
    let s = &e.summary;
    json!({
        "id": e.id(),
        "mailbox": &*e.user,
        "key": e.key,
        "seq": e.seq,
        "subject": s.subject,
        "from": s.from,
        "to": s.to,
        "date": s.date,
        "received": e.received,
        "size": e.size,
        "flags": e.flags(),
        "seen": e.seen(),
        "has_attachments": s.has_attachments,
        "snippet": s.snippet,
        "message_id": s.message_id,
    })
}

// ---- pages -----------------------------------------------------------------------------------

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type)], body).into_response()
}

async fn index_page() -> Response {
    asset("text/html; charset=utf-8", assets::INDEX_HTML)
}

async fn login_page() -> Response {
    asset("text/html; charset=utf-8", assets::LOGIN_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", assets::APP_JS)
}

async fn login_js() -> Response {
    asset("text/javascript; charset=utf-8", assets::LOGIN_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", assets::APP_CSS)
}

// ---- session ---------------------------------------------------------------------------------

async fn session(State(app): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let v = viewer(&app, &headers);
    Json(json!({
        "login_required": app.users.is_some(),
        "authenticated": v.is_some(),
        "user": v.as_ref().and_then(|v| v.user.clone()),
        "csrf_token": v.as_ref().map(|v| v.csrf.clone()),
        "ready": app.index.is_ready(),
        "cursor": app.index.cursor(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

async fn login(State(app): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let result: ApiResult<Response> = async {
        let Some(users) = app.users.clone() else {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                "this inbox has no logins".into(),
            ));
        };
        // JSON only: a form on another site cannot send it without a preflight.
        let json_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        if !json_type || !auth::same_origin(&headers) {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                "cross-site login refused".into(),
            ));
        }
        let login: Login = serde_json::from_slice(&body).map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                "want {\"user\", \"password\"}".into(),
            )
        })?;
        let (name, hash) = {
            let db = users.read().unwrap_or_else(|e| e.into_inner());
            let name = db.account_name(&login.user).map(str::to_owned);
            let hash = name
                .as_deref()
                .and_then(|n| db.password_hash(n))
                .map(str::to_owned);
            (name, hash)
        };
        // The servers' password threads (one per core, their hash memory kept), shared with
        // SMTP, POP3 and IMAP logins: a burst of logins queues there.
        let password = login.password;
        let ok = crate::net::blocking::passwords()
            .run(move || verify_password_hash_pooled(hash.as_deref(), &password))
            .await
            .ok_or_else(joined)?;
        let Some(name) = name.filter(|_| ok) else {
            tokio::time::sleep(app.auth_failure_delay).await;
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "wrong user name or password".into(),
            ));
        };
        let (token, csrf) = app.sessions.create(&name);
        let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
        let mut r = Json(json!({"user": name, "csrf_token": csrf})).into_response();
        r.headers_mut().insert(
            SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(|_| joined())?,
        );
        Ok(r)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn logout(State(app): State<Shared>, headers: HeaderMap) -> Response {
    app.sessions.remove(&headers);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut r = Json(json!({"ok": true})).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    r
}

// ---- listing -----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct ListParams {
    q: Option<String>,
    mailbox: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    before: Option<u64>,
    after: Option<u64>,
    timeout: Option<f64>,
}

fn query_for(viewer: &Viewer, p: &ListParams) -> ApiResult<Query> {
    let mut q = Query::parse(p.q.as_deref().unwrap_or(""))
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.0))?;
    if let Some(m) = p.mailbox.as_deref().filter(|m| !m.is_empty()) {
        q.mailbox = Some(m.to_owned());
    }
    if let Some(user) = &viewer.user {
        match &q.mailbox {
            Some(m) if m != user => return Err(not_found()),
            _ => q.mailbox = Some(user.clone()),
        }
    }
    Ok(q)
}

async fn mailboxes(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
) -> ApiResult<Json<Value>> {
    let v = the_viewer(v)?;
    let index = app.index.clone();
    let list = blocking(move || index.mailboxes()).await?;
    let list: Vec<Value> = list
        .into_iter()
        .filter(|m| v.may_read(&m.name))
        .map(|m| json!({"name": m.name, "total": m.total, "unread": m.unread}))
        .collect();
    Ok(Json(json!({"mailboxes": list})))
}

async fn messages(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    UrlQuery(p): UrlQuery<ListParams>,
) -> ApiResult<Json<Value>> {
    let v = the_viewer(v)?;
    let q = query_for(&v, &p)?;
    let (offset, limit, before) = (
        p.offset.unwrap_or(0),
        p.limit.unwrap_or(50).min(MAX_LIMIT),
        p.before,
    );
    let index = app.index.clone();
    let (page, cursor) = blocking(move || {
        let cursor = index.cursor();
        (index.list(&q, offset, limit, before), cursor)
    })
    .await?;
    Ok(Json(json!({
        "total": page.total,
        "offset": offset,
        "cursor": cursor,
        "ready": app.index.is_ready(),
        "messages": page.entries.iter().map(|e| entry_json(e)).collect::<Vec<_>>(),
    })))
}

async fn wait(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    UrlQuery(p): UrlQuery<ListParams>,
) -> ApiResult<Json<Value>> {
    let v = the_viewer(v)?;
    let q = query_for(&v, &p)?;
    let timeout = p.timeout.unwrap_or(30.0);
    let timeout = Duration::try_from_secs_f64(timeout)
        .map_err(|_| ApiError(StatusCode::BAD_REQUEST, "bad timeout".into()))?
        .min(MAX_WAIT);
    let mut stop = app.stopping();
    let found = tokio::select! {
        found = app.index.wait(&q, p.after.unwrap_or(0), timeout) => found,
        () = stop.wait() => None,
    };
    Ok(Json(json!({
        "message": found.as_deref().map(entry_json),
        "cursor": app.index.cursor(),
    })))
}

// ---- one message ---------------------------------------------------------------------------

/// The message `key` of `user`, when the request's viewer may read it (404 otherwise).
fn entry_for(
    app: &App,
    v: Option<axum::Extension<Viewer>>,
    user: &str,
    key: &str,
) -> ApiResult<Arc<Entry>> {
    let v = the_viewer(v)?;
    if validate_name(user).is_err() || !v.may_read(user) {
        return Err(not_found());
    }
    app.index.get(user, key).ok_or_else(not_found)
}

/// `f` with `user`'s mailbox and the message name `key`, on the blocking pool.
async fn in_mailbox<T: Send + 'static>(
    app: &App,
    user: &str,
    key: &str,
    f: impl FnOnce(&Maildir, &str) -> Result<T, StoreError> + Send + 'static,
) -> ApiResult<T> {
    let store = app.index.store().clone();
    let (user, key) = (user.to_owned(), key.to_owned());
    blocking(move || f(&store.mailbox(&user, false)?, &key))
        .await?
        .map_err(store_error)
}

async fn load(app: &App, user: &str, key: &str) -> ApiResult<Document> {
    in_mailbox(app, user, key, |md, key| {
        md.read(key).map(Document::from_vec)
    })
    .await
}

async fn message(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    Path((user, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let entry = entry_for(&app, v, &user, &key)?;
    let doc = load(&app, &user, &key).await?;
    let mut out = blocking(move || detail::detail(&doc)).await?;
    if let (Value::Object(out), Value::Object(summary)) = (&mut out, entry_json(&entry)) {
        for (k, val) in summary {
            if !matches!(
                k.as_str(),
                "subject" | "from" | "to" | "date" | "message_id"
            ) {
                out.insert(k, val);
            }
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, Default)]
struct Download {
    download: Option<String>,
    remote: Option<String>,
}

fn flag_set(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| matches!(v, "1" | "true" | "yes"))
}

/// A file name for Content-Disposition: RFC 6266 `filename*` (UTF-8, percent-encoded) and an
/// ASCII fallback.
fn disposition(kind: &str, name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// Bytes from the message, served so the browser never renders them as a page.
fn inert(body: Vec<u8>, content_type: &str, disposition_value: HeaderValue) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(CONTENT_DISPOSITION, disposition_value);
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    r
}

async fn raw(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    Path((user, key)): Path<(String, String)>,
    UrlQuery(d): UrlQuery<Download>,
) -> ApiResult<Response> {
    entry_for(&app, v, &user, &key)?;
    let data = in_mailbox(&app, &user, &key, |md, key| md.read(key)).await?;
    let name = format!("{}.eml", key.replace(['/', '\\'], "_"));
    let (kind, ctype) = if flag_set(&d.download) {
        ("attachment", "message/rfc822")
    } else {
        ("inline", "text/plain; charset=utf-8")
    };
    Ok(inert(data, ctype, disposition(kind, &name)))
}

async fn part(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    Path((user, key, n)): Path<(String, String, u32)>,
) -> ApiResult<Response> {
    entry_for(&app, v, &user, &key)?;
    let doc = load(&app, &user, &key).await?;
    let p = detail::part(&doc, n)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such part".into()))?;
    let mime = p.mime_type();
    let name = p.filename().unwrap_or_else(|| format!("part-{n}"));
    // Only plain image types are shown inline; everything else downloads as bytes.
    let (ctype, kind) = if html::is_safe_image(&mime) {
        (mime.as_str(), "inline")
    } else {
        ("application/octet-stream", "attachment")
    };
    Ok(inert(
        p.payload().into_owned(),
        ctype,
        disposition(kind, &name),
    ))
}

async fn preview(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    Path((user, key)): Path<(String, String)>,
    UrlQuery(d): UrlQuery<Download>,
) -> ApiResult<Response> {
    entry_for(&app, v, &user, &key)?;
    let doc = load(&app, &user, &key).await?;
    let page = blocking(move || detail::html_body(&doc).map(|h| html::preview(&doc, &h)))
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "the message has no HTML".into()))?;
    let mut r = Response::new(Body::from(page));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&html::preview_csp(flag_set(&d.remote))).map_err(|_| joined())?,
    );
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    Ok(r)
}

async fn delete(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    Path((user, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    entry_for(&app, v, &user, &key)?;
    in_mailbox(&app, &user, &key, |md, key| md.remove_many(&[key])).await?;
    app.index.removed(&user, &key);
    Ok(Json(json!({"deleted": format!("{user}/{key}")})))
}

#[derive(Deserialize)]
struct Flags {
    seen: Option<bool>,
    flagged: Option<bool>,
}

async fn flags(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
    Path((user, key)): Path<(String, String)>,
    Json(f): Json<Flags>,
) -> ApiResult<Json<Value>> {
    entry_for(&app, v, &user, &key)?;
    in_mailbox(&app, &user, &key, move |md, key| {
        // The letters IMAP reads: S is \Seen, F is \Flagged (moving the file to cur/).
        for (want, letter) in [(f.seen, "S"), (f.flagged, "F")] {
            match want {
                Some(true) => md.add_flags(key, letter)?,
                Some(false) => md.remove_flags(key, letter)?,
                None => {}
            }
        }
        Ok(())
    })
    .await?;
    app.index.moved(&user, &key);
    let entry = app.index.get(&user, &key).ok_or_else(not_found)?;
    Ok(Json(entry_json(&entry)))
}

// ---- live updates ----------------------------------------------------------------------------

fn sse_event(event: &Event, v: &Viewer) -> Option<SseEvent> {
    let (name, data) = match event {
        Event::Added(e) | Event::Changed(e) => {
            if !v.may_read(&e.user) {
                return None;
            }
            let name = if matches!(event, Event::Added(_)) {
                "added"
            } else {
                "changed"
            };
            (name, entry_json(e))
        }
        Event::Removed { seq, id } => {
            let mailbox = id.split('/').next().unwrap_or("");
            if !v.may_read(mailbox) {
                return None;
            }
            ("removed", json!({"seq": seq, "id": id}))
        }
        Event::Reset => ("reset", json!({})),
    };
    Some(SseEvent::default().event(name).data(data.to_string()))
}

async fn events(
    State(app): State<Shared>,
    v: Option<axum::Extension<Viewer>>,
) -> ApiResult<Response> {
    let v = the_viewer(v)?;
    let rx = app.index.subscribe();
    let stop = app.stopping();
    let stream = futures_util::stream::unfold((rx, stop, v), |(mut rx, mut stop, v)| async move {
        loop {
            let got = tokio::select! {
                got = rx.recv() => got,
                () = stop.wait() => return None,
            };
            let event = match got {
                Ok(e) => sse_event(&e, &v),
                Err(broadcast::error::RecvError::Lagged(_)) => sse_event(&Event::Reset, &v),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if let Some(ev) = event {
                return Some((Ok::<_, Infallible>(ev), (rx, stop, v)));
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

// ---- the router and the accept loop --------------------------------------------------------

pub fn router(app: Shared) -> Router {
    let m = "/api/v1/messages/{user}/{key}";
    Router::new()
        .route("/", get(index_page))
        .route("/login", get(login_page))
        .route("/assets/app.js", get(app_js))
        .route("/assets/login.js", get(login_js))
        .route("/assets/app.css", get(app_css))
        .route("/api/v1/session", get(session))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/mailboxes", get(mailboxes))
        .route("/api/v1/messages", get(messages))
        .route("/api/v1/search", get(messages))
        .route("/api/v1/wait", get(wait))
        .route("/api/v1/events", get(events))
        .route(m, get(message).delete(delete))
        .route(&format!("{m}/raw"), get(raw))
        .route(&format!("{m}/html"), get(preview))
        .route(&format!("{m}/parts/{{n}}"), get(part))
        .route(&format!("{m}/flags"), post(flags))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Accept connections until shutdown: at most `max_connections` at once (the rest wait in
/// the listen backlog), each served over HTTP/1.1 with limits on its request head.
pub async fn accept_loop(
    app: Shared,
    listener: TcpListener,
    shutdown: Shutdown,
    hard: Shutdown,
    max_connections: usize,
) {
    let _ = app.shutdown.set(shutdown.signal());
    let router = router(app);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut stop = shutdown.signal();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            () = stop.wait() => return,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                // Out of file descriptors and the like: wait, then go on.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            () = stop.wait() => return,
        };
        let _ = stream.set_nodelay(true);
        let guard = shutdown.task();
        let service = TowerToHyperService::new(router.clone());
        let (stop_conn, hard_conn) = (shutdown.signal(), hard.signal());
        tokio::spawn(async move {
            let _permit = permit;
            let _guard = guard;
            serve_one(stream, service, stop_conn, hard_conn).await;
        });
    }
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    service: TowerToHyperService<Router>,
    mut stop: ShutdownSignal,
    mut hard: ShutdownSignal,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stop.wait() => conn.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = conn.as_mut() => {}
        () = hard.wait() => {}
    }
}
