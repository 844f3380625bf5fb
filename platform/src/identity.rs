//! Who is calling: the identity the gateway forwards in gRPC metadata, and the calling
//! service's name on service-to-service calls.
//!
//! The gateway authenticates the client and sets `x-sagaway-user-id`, `x-sagaway-roles`
//! (comma-separated) and `x-sagaway-session-id`, after stripping any client-sent headers of
//! those names; the service that owns the data enforces ownership from them. A service calling
//! another names itself in `x-sagaway-caller`.

use std::fmt;
use std::str::FromStr;

use tonic::Status;
use tonic::metadata::{MetadataMap, MetadataValue};

/// Metadata key of the authenticated user's id.
pub const USER_ID: &str = "x-sagaway-user-id";
/// Metadata key of the user's roles, comma-separated.
pub const ROLES: &str = "x-sagaway-roles";
/// Metadata key of the session the request belongs to.
pub const SESSION_ID: &str = "x-sagaway-session-id";
/// Metadata key naming the calling service on service-to-service calls.
pub const CALLER: &str = "x-sagaway-caller";

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Places and follows their own orders.
    Customer,
    /// Manages the catalogue and sees everything.
    Admin,
}

impl Role {
    /// The role's wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "customer" => Ok(Role::Customer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// The caller of a request, as the gateway vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id (a UUID).
    pub user_id: uuid::Uuid,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// The session, when the request came through a session.
    pub session_id: Option<String>,
}

impl Identity {
    /// Reads the identity from request metadata; UNAUTHENTICATED when absent or malformed.
    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
        };
        let user_id = text(USER_ID)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                Status::unauthenticated(
                    "no caller identity: requests must come through the gateway",
                )
            })?;
        let user_id = uuid::Uuid::parse_str(user_id)
            .map_err(|_| Status::unauthenticated(format!("{USER_ID} is not a UUID")))?;
        let roles = text(ROLES)
            .unwrap_or_default()
            .split(',')
            .filter(|role| !role.trim().is_empty())
            .filter_map(|role| role.parse().ok())
            .collect();
        let session_id = text(SESSION_ID)
            .filter(|value| !value.is_empty())
            .map(str::to_owned);
        Ok(Self {
            user_id,
            roles,
            session_id,
        })
    }

    /// True when the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// PERMISSION_DENIED unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), Status> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Status::permission_denied(
                "this operation needs the admin role",
            ))
        }
    }

    /// Writes the identity into outgoing metadata (what the gateway does, and tests).
    pub fn write_to(&self, metadata: &mut MetadataMap) {
        insert(metadata, USER_ID, &self.user_id.to_string());
        let roles: Vec<&str> = self.roles.iter().map(|role| role.as_str()).collect();
        insert(metadata, ROLES, &roles.join(","));
        if let Some(session) = &self.session_id {
            insert(metadata, SESSION_ID, session);
        }
    }
}

/// The calling service named in `x-sagaway-caller`, if any.
pub fn caller(metadata: &MetadataMap) -> Option<String> {
    metadata
        .get(CALLER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Sets an ASCII metadata value (values that are not valid header text are skipped).
pub fn insert(metadata: &mut MetadataMap, key: &'static str, value: &str) {
    if let Ok(value) = MetadataValue::try_from(value) {
        metadata.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_through_metadata() {
        let identity = Identity {
            user_id: uuid::Uuid::new_v4(),
            roles: vec![Role::Customer, Role::Admin],
            session_id: Some("s-1".into()),
        };
        let mut metadata = MetadataMap::new();
        identity.write_to(&mut metadata);
        assert_eq!(
            Identity::from_metadata(&metadata).expect("identity"),
            identity
        );
    }

    #[test]
    fn missing_or_malformed_identity_is_unauthenticated() {
        let empty = MetadataMap::new();
        assert_eq!(
            Identity::from_metadata(&empty).expect_err("none").code(),
            tonic::Code::Unauthenticated
        );
        let mut bad = MetadataMap::new();
        insert(&mut bad, USER_ID, "not-a-uuid");
        assert_eq!(
            Identity::from_metadata(&bad).expect_err("bad").code(),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn only_admins_pass_the_admin_check() {
        let customer = Identity {
            user_id: uuid::Uuid::new_v4(),
            roles: vec![Role::Customer],
            session_id: None,
        };
        assert_eq!(
            customer.require_admin().expect_err("denied").code(),
            tonic::Code::PermissionDenied
        );
    }
}
