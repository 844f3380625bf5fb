//! The auth endpoints and the bearer scheme in `/openapi.json`, next to the generated routes.

use serde_json::{Value, json};

/// Adds the `/v1/auth/*` and JWK Set paths and the `bearer` security scheme to `document`.
pub fn describe(document: &mut Value) {
    let tokens = json!({
        "type": "object",
        "properties": {
            "access_token": { "type": "string", "description": "EdDSA JWT" },
            "token_type": { "const": "Bearer" },
            "expires_in": { "type": "integer", "description": "seconds" },
            "refresh_token": { "type": "string", "description": "opaque, single use" },
        },
    });
    let body = |properties: Value| {
        json!({ "required": true, "content": { "application/json": { "schema": {
            "type": "object", "properties": properties,
        } } } })
    };
    let string = json!({ "type": "string" });
    let answer = |description: &str, schema: Value| json!({ "description": description, "content": { "application/json": { "schema": schema } } });
    let error = answer(
        "refused",
        json!({ "$ref": "#/components/schemas/google.rpc.Status" }),
    );
    let paths = json!({
        "/v1/auth/register": { "post": {
            "summary": "Creates a customer account.",
            "security": [],
            "requestBody": body(json!({ "email": string, "password": string, "display_name": string })),
            "responses": {
                "201": answer("the new user", json!({ "$ref": "#/components/schemas/sagaway.user.v1.User" })),
                "400": error, "409": error,
            },
        } },
        "/v1/auth/login": { "post": {
            "summary": "Opens a session.",
            "security": [],
            "requestBody": body(json!({ "email": string, "password": string })),
            "responses": { "200": answer("tokens", tokens.clone()), "401": error },
        } },
        "/v1/auth/refresh": { "post": {
            "summary": "Rotates the refresh token; a reused one revokes the session.",
            "security": [],
            "requestBody": body(json!({ "refresh_token": string })),
            "responses": { "200": answer("new tokens", tokens), "401": error },
        } },
        "/v1/auth/logout": { "post": {
            "summary": "Revokes the session at once.",
            "security": [{ "bearer": [] }],
            "responses": { "204": { "description": "revoked" }, "401": error },
        } },
        "/v1/auth/revoke": { "post": {
            "summary": "Ends every session of a user at once: the caller's own, or with the admin role anyone's.",
            "security": [{ "bearer": [] }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": {
                "type": "object",
                "properties": { "user_id": { "type": "string", "description": "the caller when absent" } },
            } } } },
            "responses": {
                "200": answer("how many sessions were live", json!({
                    "type": "object", "properties": { "revoked_sessions": { "type": "integer" } },
                })),
                "400": error, "401": error, "403": error,
            },
        } },
        "/.well-known/jwks.json": { "get": {
            "summary": "The public keys that verify access tokens.",
            "security": [],
            "responses": { "200": answer("JWK Set", json!({ "type": "object" })) },
        } },
    });
    if let (Some(all), Some(new)) = (document["paths"].as_object_mut(), paths.as_object()) {
        all.extend(new.clone());
    }
    document["components"]["securitySchemes"] =
        json!({ "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } });
    document["security"] = json!([{ "bearer": [] }]);
}
