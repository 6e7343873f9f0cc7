//! `/api/v1/users`: staff accounts, administered by the `manage_users` permission.

use super::common::path_id;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use klar_domain::email::Email;
use klar_domain::error::Errors;
use klar_domain::ids::UserId;
use klar_domain::role::{Permission, Role};
use klar_store::users::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub email: String,
    /// `admin`, `privacy_officer`, `sales`, `marketing` or `viewer`.
    pub role: String,
    pub active: bool,
    pub locale: Option<String>,
    pub created_at: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id.to_string(),
            email: u.email.clone(),
            role: u.role.as_str().into(),
            active: u.active,
            locale: u.locale.clone(),
            created_at: u.created_at.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: UserOut,
    /// Shown once; the person changes it after the first login.
    pub one_time_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    pub role: Option<String>,
    /// `false` disables the account (sessions end, tokens are revoked); `true` enables it.
    pub active: Option<bool>,
}

/// Parses a new account's email and role.
pub fn parse_new_user(email: &str, role: &str) -> Result<(Email, Role), AppError> {
    let mut errs = Errors::new();
    let email = errs.take("email", Email::parse(email));
    let role = errs.take("role", Role::parse(role));
    errs.finish()?;
    match (email, role) {
        (Some(e), Some(r)) => Ok((e, r)),
        _ => Err(AppError::Internal("validated fields missing".into())),
    }
}

/// A random one-time password of 20 characters.
pub fn one_time_password() -> String {
    klar_crypto::new_token("", &mut rand::rngs::OsRng)
        .chars()
        .take(20)
        .collect()
}

/// Creates an account with a one-time password; hashing runs under the hashing semaphore.
pub async fn create_account(
    state: &AppState,
    email: Email,
    role: Role,
) -> AppResult<(User, String)> {
    let password = one_time_password();
    let params = state.config.password_params;
    let permit = state
        .hashing
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| AppError::Internal("hashing semaphore closed".into()))?;
    let pw = password.clone();
    let user = state
        .blocking(move |store| {
            let _permit = permit;
            let hash = klar_crypto::hash_password(&pw, params, &mut rand::rngs::OsRng)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            store
                .create_user(email.as_str(), role, &hash)
                .map_err(|e| match e {
                    klar_store::StoreError::Conflict(_) => {
                        AppError::Invalid(vec![klar_domain::FieldError::new(
                            "email",
                            "already has an account",
                        )])
                    }
                    other => other.into(),
                })
        })
        .await?;
    tracing::info!(user_id = %user.id, role = user.role.as_str(), "staff account created");
    Ok((user, password))
}

/// All staff accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<UserOut>), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
) -> AppResult<Json<Vec<UserOut>>> {
    auth.require(Permission::ManageUsers)?;
    Ok(Json(
        state
            .store
            .list_users()?
            .iter()
            .map(UserOut::from)
            .collect(),
    ))
}

/// Create a personal staff account; the answer carries a one-time password.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserBody,
    responses((status = 201, body = CreatedUser), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    body: ApiJson<NewUserBody>,
) -> AppResult<(StatusCode, Json<CreatedUser>)> {
    auth.require(Permission::ManageUsers)?;
    let (email, role) = parse_new_user(&body.value.email, &body.value.role)?;
    let (user, one_time_password) = create_account(&state, email, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: UserOut::from(&user),
            one_time_password,
        }),
    ))
}

/// Change an account's role or disable/enable it.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UserPatchBody,
    responses((status = 200, body = UserOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath,
    body: ApiJson<UserPatchBody>,
) -> AppResult<Json<UserOut>> {
    auth.require(Permission::ManageUsers)?;
    let uid: UserId = path_id(&id, "user")?;
    let me = auth.user.id;
    let role = match &body.value.role {
        None => None,
        Some(r) => Some(
            Role::parse(r)
                .map_err(|e| AppError::Invalid(vec![klar_domain::FieldError::new("role", e.0)]))?,
        ),
    };
    let active = body.value.active;
    let user = state
        .blocking(move |store| change_account(store, me, uid, role, active))
        .await?;
    Ok(Json(UserOut::from(&user)))
}

/// Applies a role change and/or (de)activation. Nobody disables or demotes himself, so an
/// installation cannot lose its last administrator by accident.
pub fn change_account(
    store: &klar_store::Store,
    me: UserId,
    uid: UserId,
    role: Option<Role>,
    active: Option<bool>,
) -> AppResult<User> {
    if uid == me && (active == Some(false) || role.is_some_and(|r| r != Role::Admin)) {
        return Err(AppError::Unprocessable(
            "you cannot disable your own account or take away your own administrator role".into(),
        ));
    }
    let mut user = store.get_user(uid)?;
    if let Some(r) = role.filter(|r| *r != user.role) {
        user = store.set_user_role(uid, r)?;
        tracing::info!(user_id = %uid, role = r.as_str(), "role changed");
    }
    match active {
        Some(false) if user.active => {
            store.disable_user(uid)?;
            tracing::info!(user_id = %uid, "account disabled");
        }
        Some(true) if !user.active => {
            store.enable_user(uid)?;
            tracing::info!(user_id = %uid, "account enabled");
        }
        _ => {}
    }
    Ok(store.get_user(uid)?)
}
