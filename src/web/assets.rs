//! The pages, built into the library so they ship inside the wheel: no build step, no CDN.

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const LOGIN_HTML: &str = include_str!("assets/login.html");
pub const APP_JS: &str = include_str!("assets/app.js");
pub const LOGIN_JS: &str = include_str!("assets/login.js");
pub const APP_CSS: &str = include_str!("assets/app.css");
