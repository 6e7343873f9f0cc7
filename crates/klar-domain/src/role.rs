//! Staff roles and the permission matrix: the one place that says who may do what.
//! `docs/permissions.md` shows the same table; a test keeps the two equal.

use crate::error::ValueError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    PrivacyOfficer,
    Sales,
    Marketing,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::PrivacyOfficer,
        Role::Sales,
        Role::Marketing,
        Role::Viewer,
    ];

    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                ValueError::new("is not a role (admin, privacy_officer, sales, marketing, viewer)")
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::PrivacyOfficer => "privacy_officer",
            Role::Sales => "sales",
            Role::Marketing => "marketing",
            Role::Viewer => "viewer",
        }
    }

    /// The permission matrix.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match (self, p) {
            // The administrator runs the installation and never reads customer data.
            (Admin, ManageUsers | ManageSettings | ReadPipelineConfig) => true,
            // Break-glass: only the administrator asks; a privacy officer decides
            // (ManagePrivacy), and the grant opens one person for a while (decision 0016).
            (Admin, RequestAccess) => true,
            (_, RequestAccess) => false,
            (PrivacyOfficer, ManagePrivacy) => true,
            (_, ManagePrivacy) => false,
            // Campaigns are marketing's: nobody else builds or sends them.
            (Marketing, ManageCampaigns) => true,
            (_, ManageCampaigns) => false,
            (Admin, _) => false,
            (PrivacyOfficer, ManageUsers) => false,
            (PrivacyOfficer, ReadCrm | ManageSettings | ReadPipelineConfig) => true,
            (PrivacyOfficer, WriteCrm) => true,
            (Sales, ReadCrm | WriteCrm | ReadPipelineConfig) => true,
            (Sales, ManageUsers | ManageSettings) => false,
            (Marketing, ReadCrm | ReadPipelineConfig) => true,
            (Marketing, WriteCrm | ManageUsers | ManageSettings) => false,
            (Viewer, ReadCrm | ReadPipelineConfig) => true,
            (Viewer, WriteCrm | ManageUsers | ManageSettings) => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action needs. Handlers ask for one of these; nothing else decides access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read persons, organizations, deals and activities (customer data).
    ReadCrm,
    /// Create and change persons, organizations, deals and activities.
    WriteCrm,
    /// Create, disable staff accounts and their tokens.
    ManageUsers,
    /// Change installation settings, custom field definitions, pipelines.
    ManageSettings,
    /// Read pipeline and stage definitions (no customer data).
    ReadPipelineConfig,
    /// Restrict processing (Art. 18) and lift it; change restricted persons.
    ManagePrivacy,
    /// Build segments and campaigns, preview and send them.
    ManageCampaigns,
    /// Ask for time-limited access to one person (break-glass), to be approved by a
    /// privacy officer.
    RequestAccess,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::ReadCrm,
        Permission::WriteCrm,
        Permission::ManageUsers,
        Permission::ManageSettings,
        Permission::ReadPipelineConfig,
        Permission::ManagePrivacy,
        Permission::ManageCampaigns,
        Permission::RequestAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadCrm => "read_crm",
            Permission::WriteCrm => "write_crm",
            Permission::ManageUsers => "manage_users",
            Permission::ManageSettings => "manage_settings",
            Permission::ReadPipelineConfig => "read_pipeline_config",
            Permission::ManagePrivacy => "manage_privacy",
            Permission::ManageCampaigns => "manage_campaigns",
            Permission::RequestAccess => "request_access",
        }
    }
}

/// The matrix as a Markdown table, for the documentation.
pub fn matrix_markdown() -> String {
    let mut s = String::from("| permission |");
    for r in Role::ALL {
        s.push_str(&format!(" {} |", r.as_str()));
    }
    s.push_str("\n|---|");
    for _ in Role::ALL {
        s.push_str("---|");
    }
    s.push('\n');
    for p in Permission::ALL {
        s.push_str(&format!("| `{}` |", p.as_str()));
        for r in Role::ALL {
            s.push_str(if r.allows(p) { " yes |" } else { " no |" });
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_administers_but_cannot_read_customer_data() {
        assert!(Role::Admin.allows(Permission::ManageUsers));
        assert!(!Role::Admin.allows(Permission::ReadCrm));
        assert!(!Role::Admin.allows(Permission::WriteCrm));
    }

    #[test]
    fn viewers_and_marketing_cannot_change_records() {
        assert!(!Role::Viewer.allows(Permission::WriteCrm));
        assert!(!Role::Marketing.allows(Permission::WriteCrm));
        assert!(Role::Sales.allows(Permission::WriteCrm));
    }

    #[test]
    fn roles_parse_from_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("root").is_err());
    }
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn the_documented_permission_table_is_the_one_in_the_code() {
        let doc = include_str!("../../../docs/permissions.md");
        let table = super::matrix_markdown();
        assert!(
            doc.contains(&table),
            "docs/permissions.md is out of date; put this table in it:\n{table}"
        );
    }
}
