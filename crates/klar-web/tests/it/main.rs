//! Integration tests of the HTTP surface: a real server on a loopback port, a fresh data
//! directory per test, real SQLite, real crypto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod access_grants;
mod app;
mod art15;
mod audit;
mod auth;
mod browser;
mod campaigns;
mod config;
mod deals;
mod doi_lapse;
mod dsr;
mod erasure;
mod fuzz;
mod grounds;
mod mail;
mod openapi;
mod organizations_activities;
mod persons;
mod privacy;
mod retention;
mod ropa;
mod routes;
mod sessions;
mod totp;
mod ui_forms;
mod ui_pipeline;
mod ui_privacy;
mod users;
