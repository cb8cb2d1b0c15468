"""Verification of the OIDC ID tokens emitters attach, so each entry names a proven actor."""
