"""Identity: sign-in with an OpenID provider (OIDC) and SCIM 2.0 provisioning of people."""
