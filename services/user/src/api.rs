//! The gRPC face of the user service: `sagaway.user.v1.UserService`.
//!
//! Every RPC answers `UNIMPLEMENTED` for now; the services issue fills them in over the
//! service's own database.

use sagaway_contracts::pb::user as pb;
use tonic::{Request, Response, Status};

/// Implements `UserService`.
#[derive(Debug, Clone, Default)]
pub struct UserServiceApi;

fn not_yet(rpc: &str) -> Status {
    Status::unimplemented(format!("UserService.{rpc} is not implemented yet"))
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for UserServiceApi {
    async fn register_user(
        &self,
        _request: Request<pb::RegisterUserRequest>,
    ) -> Result<Response<pb::RegisterUserResponse>, Status> {
        Err(not_yet("register_user"))
    }

    async fn authenticate_user(
        &self,
        _request: Request<pb::AuthenticateUserRequest>,
    ) -> Result<Response<pb::AuthenticateUserResponse>, Status> {
        Err(not_yet("authenticate_user"))
    }

    async fn get_user(
        &self,
        _request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        Err(not_yet("get_user"))
    }

    async fn get_me(
        &self,
        _request: Request<pb::GetMeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        Err(not_yet("get_me"))
    }

    async fn top_up_balance(
        &self,
        _request: Request<pb::TopUpBalanceRequest>,
    ) -> Result<Response<pb::TopUpBalanceResponse>, Status> {
        Err(not_yet("top_up_balance"))
    }

    async fn list_users(
        &self,
        _request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        Err(not_yet("list_users"))
    }
}
