//! Password hashing with argon2id, off the async runtime.
//!
//! Hashes use argon2's default parameters (argon2id, 19 MiB, 2 passes, 1 lane: OWASP's
//! recommendation) and a random salt, stored as a PHC string that carries its own parameters,
//! so raising them later still verifies old hashes. Each hash takes tens of milliseconds of CPU
//! and 19 MiB, so it runs on the blocking pool and at most one per core runs at a time.
//!
//! Signing in with an unknown email verifies the password against [`DUMMY_HASH`], made with
//! the same parameters, so it costs what a wrong password for a real account costs and the
//! timing does not reveal which emails are registered.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use tokio::sync::Semaphore;

use crate::domain::Password;
use crate::error::Error;

/// An argon2id hash of a password nobody knows, with the default parameters.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ClkflpiBTPwRK/WOPYWyZw$qFr+O1UOFFmVeH9rw9xCppJgfwuw6kGaDH6/MQEWsVM";

/// A password hash in PHC string form, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHash(pub String);

/// Hashes and verifies passwords, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Default for Hasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }
}

impl Hasher {
    /// A salted argon2id hash of `password`.
    pub async fn hash(&self, password: &Password) -> Result<StoredHash, Error> {
        let password = password.expose().to_owned();
        let _permit = self.permit().await;
        tokio::task::spawn_blocking(move || hash(&password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown account) the password
    /// is checked against [`DUMMY_HASH`] at the same cost and the answer is `false`.
    pub async fn verify(&self, password: &str, stored: Option<StoredHash>) -> Result<bool, Error> {
        let password = password.to_owned();
        let _permit = self.permit().await;
        tokio::task::spawn_blocking(move || match stored {
            Some(stored) => verify(&password, &stored.0),
            None => verify(&password, DUMMY_HASH).map(|_| false),
        })
        .await?
    }

    /// A slot on the hashing pool. The semaphore is never closed, so this always waits for one.
    async fn permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.permits.acquire().await.ok()
    }
}

fn hash(password: &str) -> Result<StoredHash, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(Error::Hashing)?;
    Ok(StoredHash(hash.to_string()))
}

fn verify(password: &str, stored: &str) -> Result<bool, Error> {
    let parsed = PasswordHash::new(stored).map_err(Error::Hashing)?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(other) => Err(Error::Hashing(other)),
    }
}

#[cfg(test)]
mod tests {
    use argon2::Params;

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = Hasher::default();
        let password = Password::parse("correct horse battery").expect("valid");
        let stored = hasher.hash(&password).await.expect("hash");
        assert!(stored.0.starts_with("$argon2id$"), "{}", stored.0);
        assert!(
            hasher
                .verify("correct horse battery", Some(stored.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("wrong horse battery", Some(stored))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert!(
            !Hasher::default()
                .verify("anything at all", None)
                .await
                .expect("verify")
        );
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_hash_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).expect("valid PHC string");
        assert_eq!(dummy.algorithm, argon2::Algorithm::Argon2id.ident());
        let params = Params::try_from(&dummy).expect("argon2 params");
        let defaults = Params::default();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (defaults.m_cost(), defaults.t_cost(), defaults.p_cost())
        );
    }
}
