//! What `build` refuses and what it accepts.

use std::sync::Arc;
use std::time::Duration;

use guard_core::{Decision, Guard, GuardResponse};
use http::{Method, StatusCode};

use super::helpers::{APP, app, check, parts};
use crate::error::{NotASubdomainPattern, NotAnOrigin};
use crate::{Cors, CorsError, CorsPolicy};

#[test]
fn every_build_error() {
    let err = |p: CorsPolicy| p.build().unwrap_err();
    assert_eq!(
        err(CorsPolicy::new().allow_origins(["https://a.com", "https://b.com/api"])),
        CorsError::InvalidOrigin {
            entry: "https://b.com/api".into(),
            reason: NotAnOrigin::HasPath
        }
    );
    for (entry, reason) in [
        ("https://a.com/", NotAnOrigin::TrailingSlash),
        ("a.com", NotAnOrigin::MissingScheme),
        ("https://user:pw@a.com", NotAnOrigin::HasUserinfo),
        ("https://a.com?x", NotAnOrigin::HasQuery),
        ("https://a.com#x", NotAnOrigin::HasFragment),
        ("ftp://a.com", NotAnOrigin::UnsupportedScheme),
        ("https://*.a.com", NotAnOrigin::Wildcard),
    ] {
        assert_eq!(
            err(CorsPolicy::new().allow_origins([entry])),
            CorsError::InvalidOrigin { entry: entry.into(), reason }
        );
    }
    assert_eq!(
        err(CorsPolicy::new().allow_origins(["*", "https://a.com"])),
        CorsError::InvalidOrigin { entry: "*".into(), reason: NotAnOrigin::Wildcard }
    );
    assert_eq!(
        err(CorsPolicy::new().allow_subdomains_of(["https://*.com"])),
        CorsError::InvalidSubdomainPattern {
            entry: "https://*.com".into(),
            reason: NotASubdomainPattern::TooBroad
        }
    );
    assert_eq!(err(CorsPolicy::new().allow_origins(["null"])), CorsError::NullOriginNotEnabled);
    assert_eq!(err(CorsPolicy::new()), CorsError::NoOriginAllowed);
    assert_eq!(
        err(CorsPolicy::new().allow_origins(std::iter::empty::<&str>()).allow_credentials(true)),
        CorsError::NoOriginAllowed
    );
    assert_eq!(
        err(CorsPolicy::new().allow_any_origin().allow_credentials(true)),
        CorsError::CredentialsWithAnyOrigin
    );
    assert_eq!(
        err(CorsPolicy::new().mirror_request_origin(true).allow_credentials(true)),
        CorsError::CredentialsWithMirroredOrigin
    );
    assert_eq!(
        err(app().allow_null_origin(true).allow_credentials(true)),
        CorsError::CredentialsWithNullOrigin
    );
    assert_eq!(
        err(app().allow_headers(["content-type", "*"]).allow_credentials(true)),
        CorsError::CredentialsWithAnyHeader
    );
    assert_eq!(
        err(app().expose_headers(["*"]).allow_credentials(true)),
        CorsError::CredentialsWithAnyExposedHeader
    );
    for bad in ["*", "GE T", "", "GET,POST"] {
        assert_eq!(
            err(app().allow_methods([bad])),
            CorsError::InvalidMethod(bad.into()),
            "{bad:?}"
        );
    }
    assert_eq!(err(app().allow_methods(std::iter::empty::<&str>())), CorsError::NoMethodAllowed);
    assert_eq!(
        err(app().allow_headers(["content type"])),
        CorsError::InvalidHeaderName("content type".into())
    );
    assert_eq!(
        err(app().expose_headers(["x-ok", "bad:name"])),
        CorsError::InvalidHeaderName("bad:name".into())
    );
    // Errors say what to do.
    assert_eq!(
        CorsError::CredentialsWithAnyOrigin.to_string(),
        "allow_credentials cannot be combined with any origin (`*`): list the origins instead"
    );
}

#[test]
fn valid_policies_build() {
    for policy in [
        app(),
        CorsPolicy::new().allow_any_origin(),
        CorsPolicy::new().allow_subdomains_of(["https://*.example.com"]).allow_credentials(true),
        CorsPolicy::new().allow_origin_fn(|_, _| false).allow_credentials(true),
        CorsPolicy::new().allow_null_origin(true),
        CorsPolicy::new().mirror_request_origin(true),
        app().allow_headers(["*"]).expose_headers(["*"]),
        app().allow_methods(["get", " PROPFIND "]).max_age(Duration::ZERO),
    ] {
        let built = policy.build();
        assert!(built.is_ok(), "{policy:?}: {built:?}");
    }
    let cors = Cors::try_from(app().allow_methods(["get", "GET", "Get"])).unwrap();
    assert_eq!(cors.methods, [Method::GET]);
    assert!(format!("{cors:?}").starts_with("Cors {"));
}

#[tokio::test]
async fn a_shared_guard_behaves_the_same() {
    let cors = Arc::new(app().build().unwrap());
    let Decision::Continue(state) = check(&cors, &parts("GET", &[("origin", APP)])).await else {
        panic!()
    };
    let mut res = GuardResponse::new(StatusCode::OK);
    cors.respond(state, &mut res);
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
}
