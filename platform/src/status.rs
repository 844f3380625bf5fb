//! Turning failures into gRPC statuses the same way in every service: validation errors carry
//! `google.rpc.BadRequest` field violations; internal errors are logged with their whole cause
//! chain and reach the client only as "internal error".

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the request, e.g. `items[0].quantity`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` listing every violation.
pub fn invalid_argument(violations: Vec<Violation>) -> Status {
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    let details = ErrorDetails::with_bad_request(
        violations
            .into_iter()
            .map(|v| FieldViolation::new(v.field, v.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// INTERNAL for the client; the cause chain goes to the log only.
pub fn internal(context: &str, error: &(dyn std::error::Error + 'static)) -> Status {
    let chain = crate::retry::error_chain(error);
    tracing::error!(context, error = %chain, "internal error");
    Status::internal("internal error")
}

/// The field violations a status carries, if any (for tests and clients).
pub fn violations(status: &Status) -> Vec<Violation> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| Violation::new(v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_carry_every_field_violation() {
        let status = invalid_argument(vec![
            Violation::new("email", "is empty"),
            Violation::new("password", "too short"),
        ]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status).len(), 2);
        assert!(status.message().contains("email: is empty"));
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let cause = std::io::Error::other("password=hunter2 in a connection string");
        let status = internal("test", &cause);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
