//! Contract tests of the Graph adapter against wiremock on 127.0.0.1, which plays both the
//! Entra ID token endpoint and Microsoft Graph with the documented response shapes.

mod download;
mod failures;
mod observe;
mod settings;
mod support;
mod throttling;
mod token;
