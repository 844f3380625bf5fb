//! What the user service does, one method per operation: register, sign in, read, top up,
//! list, and create the configured admin. The gRPC handlers call these with parsed input and
//! the caller's identity; these enforce who may do what and run the SQL in `store`.

use sagaway_platform::identity::{Identity, Role};
use sagaway_platform::money::Currency;
use sagaway_platform::paging::{Page, PageRequest};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::AdminAccount;
use crate::credentials::Hasher;
use crate::domain::{self, DisplayName, Email, EntryKind, NewUser, TopUp, User};
use crate::error::Error;
use crate::store::{self, NewAccount};

/// The name ListUsers signs its page tokens with.
const USERS_LIST: &str = "users";

/// The account operations over the user database.
#[derive(Debug, Clone)]
pub struct Accounts {
    pool: PgPool,
    hasher: Hasher,
    currency: Currency,
}

impl Accounts {
    /// Operations on the database behind `pool`, with balances kept in `currency`.
    pub fn new(pool: PgPool, hasher: Hasher, currency: Currency) -> Self {
        Self {
            pool,
            hasher,
            currency,
        }
    }

    /// The system currency: every balance and top-up is in it.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Creates a customer with a zero balance; ALREADY_EXISTS when the email is taken.
    pub async fn register(&self, new_user: NewUser) -> Result<User, Error> {
        let user = self
            .create(&new_user, &[Role::Customer])
            .await?
            .ok_or(Error::EmailTaken)?;
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// The account the email and password belong to. Unknown emails and wrong passwords fail
    /// alike, after the same hashing work.
    pub async fn authenticate(&self, email: &str, password: &str) -> Result<User, Error> {
        let found = store::find_credentials(&self.pool, &Email::normalize(email)).await?;
        let (user, stored) = found.unzip();
        match (self.hasher.verify(password, stored).await?, user) {
            (true, Some(user)) => Ok(user),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// The account `id`, for an admin or the user themself.
    pub async fn get(&self, caller: &Identity, id: Uuid) -> Result<User, Error> {
        domain::ensure_self_or_admin(caller, id)?;
        self.find(id).await
    }

    /// The caller's own account.
    pub async fn me(&self, caller: &Identity) -> Result<User, Error> {
        self.find(caller.user_id).await
    }

    /// Adds the amount to the balance and records it in the ledger, in one transaction.
    pub async fn top_up(&self, caller: &Identity, top_up: TopUp) -> Result<User, Error> {
        domain::ensure_self_or_admin(caller, top_up.user_id)?;
        let mut tx = self.pool.begin().await?;
        let user = store::lock_user(&mut tx, top_up.user_id)
            .await?
            .ok_or(Error::UserNotFound(top_up.user_id))?;
        let balance = user.credit(top_up.amount)?;
        let user = store::set_balance(&mut tx, user.id, balance).await?;
        store::record_entry(&mut tx, user.id, EntryKind::TopUp, top_up.amount, None).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, amount = %top_up.amount, by = %caller.user_id, "balance topped up");
        Ok(user)
    }

    /// One page of every account, oldest first; admins only.
    pub async fn list(
        &self,
        caller: &Identity,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<User>, Error> {
        domain::ensure_admin(caller)?;
        let page = PageRequest::parse(page_size, page_token, USERS_LIST)
            .map_err(Error::InvalidArgument)?;
        let rows = store::list_users(&self.pool, &page).await?;
        Ok(Page::from_rows(rows, page.size, USERS_LIST, User::cursor))
    }

    /// Creates the configured admin unless some account already has that email; an existing
    /// account is left exactly as it is. Safe to run on every start, by several instances at
    /// once.
    pub async fn bootstrap_admin(&self, admin: &AdminAccount) -> Result<(), Error> {
        if store::email_taken(&self.pool, admin.email.as_str()).await? {
            tracing::info!(email = %admin.email, "admin account already exists; left unchanged");
            return Ok(());
        }
        let new_admin = NewUser {
            email: admin.email.clone(),
            password: admin.password.clone(),
            display_name: DisplayName::administrator(),
        };
        if let Some(user) = self
            .create(&new_admin, &[Role::Customer, Role::Admin])
            .await?
        {
            tracing::info!(user_id = %user.id, email = %user.email, "admin account created from configuration");
        }
        Ok(())
    }

    async fn create(&self, new_user: &NewUser, roles: &[Role]) -> Result<Option<User>, Error> {
        let password_hash = self.hasher.hash(&new_user.password).await?;
        let account = NewAccount {
            email: new_user.email.as_str(),
            display_name: new_user.display_name.as_str(),
            password_hash: &password_hash,
            roles,
            currency: self.currency,
        };
        Ok(store::insert_user(&self.pool, &account).await?)
    }

    async fn find(&self, id: Uuid) -> Result<User, Error> {
        store::find_user(&self.pool, id)
            .await?
            .ok_or(Error::UserNotFound(id))
    }
}
