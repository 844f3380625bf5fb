//! The gRPC face of the user service: `sagaway.user.v1.UserService`.
//!
//! Each handler reads the caller's identity (UNAUTHENTICATED without one, except for the two
//! RPCs that exist to obtain an identity), parses the request into domain values, calls
//! [`Accounts`], and converts the answer. Failures become statuses in `error.rs`.

use sagaway_contracts::pb::user as pb;
use sagaway_platform::identity::Identity;
use tonic::{Request, Response, Status};

use crate::accounts::Accounts;
use crate::domain::{self, NewUser, TopUp};
use crate::error::Error;

/// Implements `UserService` over [`Accounts`].
#[derive(Debug, Clone)]
pub struct UserServiceApi {
    accounts: Accounts,
}

impl UserServiceApi {
    /// The API over `accounts`.
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for UserServiceApi {
    async fn register_user(
        &self,
        request: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::RegisterUserResponse>, Status> {
        let new_user = NewUser::try_from(request.into_inner())?;
        let user = self.accounts.register(new_user).await?;
        Ok(Response::new(pb::RegisterUserResponse {
            user: Some(user.into()),
        }))
    }

    async fn authenticate_user(
        &self,
        request: Request<pb::AuthenticateUserRequest>,
    ) -> Result<Response<pb::AuthenticateUserResponse>, Status> {
        let request = request.into_inner();
        let user = self
            .accounts
            .authenticate(&request.email, &request.password)
            .await?;
        Ok(Response::new(pb::AuthenticateUserResponse {
            user: Some(user.into()),
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        let user_id = domain::parse_user_id(&request.get_ref().user_id)
            .map_err(|violation| Error::InvalidArgument(vec![violation]))?;
        let user = self.accounts.get(&caller, user_id).await?;
        Ok(Response::new(user.into()))
    }

    async fn get_me(
        &self,
        request: Request<pb::GetMeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        let user = self.accounts.me(&caller).await?;
        Ok(Response::new(user.into()))
    }

    async fn top_up_balance(
        &self,
        request: Request<pb::TopUpBalanceRequest>,
    ) -> Result<Response<pb::TopUpBalanceResponse>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        let top_up = TopUp::parse(request.get_ref(), self.accounts.currency())?;
        let user = self.accounts.top_up(&caller, top_up).await?;
        Ok(Response::new(pb::TopUpBalanceResponse {
            user: Some(user.into()),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = Identity::from_metadata(request.metadata())?;
        let pb::ListUsersRequest {
            page_size,
            page_token,
        } = request.into_inner();
        let page = self.accounts.list(&caller, page_size, &page_token).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.items.into_iter().map(Into::into).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}
