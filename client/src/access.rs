//! The calls about credentials: tokens and S3 access keys (admin only),
//! presigned links, and who may read an S3 bucket.

use reqwest::Method;
use uuid::Uuid;

use crate::client::Client;
use crate::error::Result;
use crate::response::{json_body, success};
use crate::wire::{
    AccessKeyInfo, AccessKeyList, BucketInfo, BucketPatch, CreatedAccessKey, CreatedToken,
    NewAccessKey, NewToken, Scope, ShareRequest, SharedLink, TokenInfo, TokenList, Visibility,
};

impl Client {
    /// `POST /tokens`: a new token; its secret is in the answer and
    /// nowhere else.
    pub async fn create_token(&self, name: &str, scopes: &[Scope]) -> Result<CreatedToken> {
        let body = NewToken {
            name: name.to_owned(),
            scopes: scopes.to_vec(),
        };
        let response = self
            .request(Method::POST, self.url(&["tokens"]))
            .json(&body)
            .send()
            .await?;
        json_body(response).await
    }

    /// `GET /tokens`: every token, revoked ones included, without secrets.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let response = self
            .request(Method::GET, self.url(&["tokens"]))
            .send()
            .await?;
        let list: TokenList = json_body(response).await?;
        Ok(list.tokens)
    }

    /// `DELETE /tokens/{id}`: the token stops working at once.
    pub async fn revoke_token(&self, id: Uuid) -> Result<()> {
        let id = id.to_string();
        let response = self
            .request(Method::DELETE, self.url(&["tokens", &id]))
            .send()
            .await?;
        success(response).await?;
        Ok(())
    }

    /// `POST /content/{id}/share`: a presigned URL of the bytes, valid for
    /// `expires_in` (`"1h"`, `"7d"`, …).
    pub async fn share(&self, id: Uuid, expires_in: &str) -> Result<SharedLink> {
        let body = ShareRequest {
            expires_in: Some(expires_in.to_owned()),
        };
        let response = self
            .request(Method::POST, self.content_url(id, &["share"]))
            .json(&body)
            .send()
            .await?;
        json_body(response).await
    }

    /// `POST /keys`: a new S3 access key; its secret is in the answer and
    /// nowhere else.
    pub async fn create_access_key(
        &self,
        name: &str,
        scopes: &[Scope],
    ) -> Result<CreatedAccessKey> {
        let body = NewAccessKey {
            name: name.to_owned(),
            scopes: scopes.to_vec(),
        };
        let response = self
            .request(Method::POST, self.url(&["keys"]))
            .json(&body)
            .send()
            .await?;
        json_body(response).await
    }

    /// `GET /keys`: every access key, revoked ones included, without secrets.
    pub async fn access_keys(&self) -> Result<Vec<AccessKeyInfo>> {
        let response = self
            .request(Method::GET, self.url(&["keys"]))
            .send()
            .await?;
        let list: AccessKeyList = json_body(response).await?;
        Ok(list.keys)
    }

    /// `DELETE /keys/{id}`: S3 refuses the key from the next request on.
    pub async fn revoke_access_key(&self, id: Uuid) -> Result<()> {
        let id = id.to_string();
        let response = self
            .request(Method::DELETE, self.url(&["keys", &id]))
            .send()
            .await?;
        success(response).await?;
        Ok(())
    }

    /// `PATCH /buckets/{name}`: a public bucket and its objects are read
    /// and listed without a credential; a private one needs a key or token.
    pub async fn set_bucket_visibility(
        &self,
        bucket: &str,
        visibility: Visibility,
    ) -> Result<BucketInfo> {
        let response = self
            .request(Method::PATCH, self.url(&["buckets", bucket]))
            .json(&BucketPatch { visibility })
            .send()
            .await?;
        json_body(response).await
    }
}
