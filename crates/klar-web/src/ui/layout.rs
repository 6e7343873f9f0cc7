//! What every page needs: translations, the logged-in user, the CSRF token, the active nav.

use crate::i18n::{Locale, Tr};
use axum::http::HeaderMap;
use klar_domain::role::{Permission, Role};
use klar_store::users::Session;

#[derive(Debug, Clone)]
pub struct Layout {
    pub t: Tr,
    pub user_email: Option<String>,
    pub role: Option<Role>,
    pub csrf: String,
    pub active: &'static str,
    /// The signed-in staff member, as recorded in the audit trail.
    pub user_id: Option<klar_domain::ids::UserId>,
}

impl Layout {
    /// Who acts, for the audit trail.
    pub fn actor(&self) -> klar_store::audit::AuditActor {
        self.user_id.map_or(
            klar_store::audit::AuditActor::Anonymous,
            klar_store::audit::AuditActor::User,
        )
    }
}

impl Layout {
    pub fn for_session(s: &Session, headers: &HeaderMap, active: &'static str) -> Self {
        let locale = s
            .user
            .locale
            .as_deref()
            .and_then(Locale::parse)
            .unwrap_or_else(|| Locale::from_accept_language(accept_language(headers)));
        Layout {
            t: Tr { locale },
            user_email: Some(s.user.email.clone()),
            role: Some(s.user.role),
            csrf: s.csrf_token.clone(),
            active,
            user_id: Some(s.user.id),
        }
    }

    pub fn anonymous(headers: &HeaderMap) -> Self {
        Layout {
            t: Tr {
                locale: Locale::from_accept_language(accept_language(headers)),
            },
            user_email: None,
            role: None,
            csrf: String::new(),
            active: "",
            user_id: None,
        }
    }

    pub fn can_read_crm(&self) -> bool {
        self.role.is_some_and(|r| r.allows(Permission::ReadCrm))
    }

    pub fn can_write_crm(&self) -> bool {
        self.role.is_some_and(|r| r.allows(Permission::WriteCrm))
    }

    pub fn can_manage_privacy(&self) -> bool {
        self.role
            .is_some_and(|r| r.allows(Permission::ManagePrivacy))
    }

    pub fn can_manage_campaigns(&self) -> bool {
        self.role
            .is_some_and(|r| r.allows(Permission::ManageCampaigns))
    }

    pub fn can_manage_users(&self) -> bool {
        self.role.is_some_and(|r| r.allows(Permission::ManageUsers))
    }

    pub fn can_request_access(&self) -> bool {
        self.role
            .is_some_and(|r| r.allows(Permission::RequestAccess))
    }

    pub fn can_manage_settings(&self) -> bool {
        self.role
            .is_some_and(|r| r.allows(Permission::ManageSettings))
    }

    /// The privacy pages: the record, the installation settings and the purposes for roles
    /// that manage settings, the audit trail and purpose changes for the privacy officer.
    pub fn can_see_privacy(&self) -> bool {
        self.can_manage_settings() || self.can_manage_privacy()
    }

    pub fn is(&self, nav: &str) -> bool {
        self.active == nav
    }
}

fn accept_language(h: &HeaderMap) -> Option<&str> {
    h.get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}
