//! Integration tests: the real server on a real PostgreSQL, each test in a
//! fresh database, the application connected as its restricted role.
mod accounts;
mod audit;
mod callers;
mod codes;
mod helpers;
mod invitations;
mod jobs;
mod members;
mod orgs;
mod platform;
mod rest;
mod security;
mod startup;
mod tenancy;
mod webhooks;
