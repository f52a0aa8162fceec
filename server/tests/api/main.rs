//! Integration tests: the real server on a real PostgreSQL, each test in a
//! fresh database, the application connected as its restricted role.
mod accounts;
mod api_keys;
mod audit;
mod audit_log;
mod callers;
mod code_comments;
mod code_files;
mod code_search;
mod codes;
mod helpers;
mod invitations;
mod jobs;
mod least_privilege;
mod live;
mod members;
mod orgs;
mod platform;
mod rest;
mod rest_codes;
mod rest_errors;
mod rest_org;
mod rest_schema;
mod security;
mod startup;
mod tenancy;
mod webhooks;
