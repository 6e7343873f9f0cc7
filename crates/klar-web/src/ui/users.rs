//! Staff accounts in the UI: the administrator's account list, and every user's own
//! password change.

use super::forms::{field_errors, not_found_page};
use super::session::UiSession;
use super::{Layout, render};
use crate::AppState;
use crate::api::users::{change_account, create_account, parse_new_user};
use crate::auth::{SESSION_COOKIE, cookie};
use crate::error::AppError;
use crate::extract::{ApiPath, UiForm};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use klar_domain::ids::UserId;
use klar_domain::password::PasswordError;
use klar_domain::role::{Permission, Role};
use klar_store::users::User;
use serde::Deserialize;
use std::collections::HashMap;

pub struct RoleOption {
    pub value: &'static str,
    pub label: &'static str,
}

fn role_options(p: &Layout) -> Vec<RoleOption> {
    Role::ALL
        .iter()
        .map(|r| RoleOption {
            value: r.as_str(),
            label: p.t.get(&format!("role-{}", r.as_str().replace('_', "-"))),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "users/list.html")]
pub struct UsersPage {
    pub p: Layout,
    pub users: Vec<User>,
    pub roles: Vec<RoleOption>,
    pub me: UserId,
    pub email: String,
    pub role: String,
    pub errors: HashMap<String, String>,
    pub notice: String,
}

impl UsersPage {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn role_label(&self, r: &Role) -> &'static str {
        self.p
            .t
            .get(&format!("role-{}", r.as_str().replace('_', "-")))
    }
}

fn users_page(
    state: &AppState,
    s: &UiSession,
    email: String,
    role: String,
    errors: HashMap<String, String>,
    notice: String,
    status: StatusCode,
) -> Response {
    let p = s.layout("users");
    match state.store.list_users() {
        Ok(users) => {
            let roles = role_options(&p);
            render(
                status,
                &UsersPage {
                    p,
                    users,
                    roles,
                    me: s.session.user.id,
                    email,
                    role,
                    errors,
                    notice,
                },
            )
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

pub async fn users_list_page(State(state): State<AppState>, s: UiSession) -> Response {
    if let Err(r) = s.require(Permission::ManageUsers) {
        return r;
    }
    users_page(
        &state,
        &s,
        String::new(),
        "sales".into(),
        HashMap::new(),
        String::new(),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "users/created.html")]
pub struct UserCreatedPage {
    pub p: Layout,
    pub user: User,
    pub password: String,
}

pub async fn users_create_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<NewUserForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageUsers) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let result = match parse_new_user(&f.email, &f.role) {
        Ok((email, role)) => create_account(&state, email, role).await,
        Err(e) => Err(e),
    };
    match result {
        // The one-time password is shown on this page only, never again.
        Ok((user, password)) => render(
            StatusCode::CREATED,
            &UserCreatedPage {
                p: s.layout("users"),
                user,
                password,
            },
        ),
        Err(AppError::Invalid(errs)) => users_page(
            &state,
            &s,
            f.email,
            f.role,
            field_errors(errs),
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct ChangeUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    /// `disable`, `enable` or empty.
    #[serde(default)]
    action: String,
}

pub async fn users_update_submit(
    State(state): State<AppState>,
    s: UiSession,
    ApiPath(id): ApiPath,
    UiForm(f): UiForm<ChangeUserForm>,
) -> Response {
    if let Err(r) = s.require(Permission::ManageUsers) {
        return r;
    }
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let Ok(uid) = id.parse::<UserId>() else {
        return not_found_page(&s, "users");
    };
    let role = if f.role.is_empty() {
        None
    } else {
        Role::parse(&f.role).ok()
    };
    let active = match f.action.as_str() {
        "disable" => Some(false),
        "enable" => Some(true),
        _ => None,
    };
    let me = s.session.user.id;
    match state
        .blocking(move |store| change_account(store, me, uid, role, active))
        .await
    {
        Ok(_) => Redirect::to("/admin/users").into_response(),
        Err(AppError::Unprocessable(msg)) => users_page(
            &state,
            &s,
            String::new(),
            "sales".into(),
            HashMap::new(),
            msg,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(AppError::NotFound(_)) => not_found_page(&s, "users"),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "account/password.html")]
pub struct PasswordPage {
    pub p: Layout,
    pub errors: HashMap<String, String>,
    pub saved: bool,
}

impl PasswordPage {
    pub fn err(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    pub fn has_err(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }
}

pub async fn password_page(s: UiSession) -> Response {
    render(
        StatusCode::OK,
        &PasswordPage {
            p: s.layout("settings"),
            errors: HashMap::new(),
            saved: false,
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// Every user changes his own password: the current one is checked, the new one follows the
/// password rules (12 characters, not a common password) and is typed twice; his other
/// sessions end.
pub async fn password_submit(
    State(state): State<AppState>,
    s: UiSession,
    UiForm(f): UiForm<PasswordForm>,
) -> Response {
    if let Err(r) = s.check_form(&f.csrf, &state.config.public_url) {
        return r;
    }
    let p = s.layout("settings");
    let mut errors = HashMap::new();
    if let Err(e) = klar_domain::password::check(&f.new) {
        let key = match e {
            PasswordError::TooShort => "password-too-short",
            PasswordError::TooLong => "password-too-long",
            PasswordError::Common => "password-common",
        };
        errors.insert("new".to_string(), p.t.get(key).to_string());
    } else if f.new != f.repeat {
        errors.insert(
            "repeat".to_string(),
            p.t.get("password-mismatch").to_string(),
        );
    }
    let uid = s.session.user.id;
    let params = state.config.password_params;
    let keep = cookie(&s.headers, SESSION_COOKIE).map(str::to_string);
    let permit = match state.hashing.clone().acquire_owned().await {
        Ok(permit) => permit,
        Err(_) => return AppError::Internal("hashing semaphore closed".into()).into_response(),
    };
    let check_only = !errors.is_empty();
    let (current, new) = (f.current, f.new);
    let result = state
        .blocking(move |store| {
            let _permit = permit;
            let hash = store.password_hash_of(uid)?.unwrap_or_default();
            if !klar_crypto::verify_password(&current, &hash) {
                return Ok(false);
            }
            if check_only {
                return Ok(true);
            }
            let new_hash = klar_crypto::hash_password(&new, params, &mut rand::rngs::OsRng)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            store.set_password_hash(uid, &new_hash, keep.as_deref())?;
            Ok(true)
        })
        .await;
    match result {
        Ok(false) => {
            errors.insert("current".to_string(), p.t.get("password-wrong").to_string());
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasswordPage {
                    p,
                    errors,
                    saved: false,
                },
            )
        }
        Ok(true) if !errors.is_empty() => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                p,
                errors,
                saved: false,
            },
        ),
        Ok(true) => {
            tracing::info!(user_id = %uid, "password changed");
            render(
                StatusCode::OK,
                &PasswordPage {
                    p,
                    errors,
                    saved: true,
                },
            )
        }
        Err(e) => e.into_response(),
    }
}
