//! Every integration test in one binary: one link instead of one per file (each was
//! ~160 MB of debug build, and CI machines can be short of disk), and one emulator
//! shared by all of them, each test on its own table.

mod accounts;
mod accounts_by_id;
mod accounts_store;
mod authorizer;
mod avatar;
mod change_events;
mod claims;
mod code_tries;
mod consents;
mod disabling;
mod email;
mod email_change;
mod emulator;
mod error_styles;
mod events;
mod faults;
mod hardening;
mod layers;
mod local_info;
mod loyalty;
mod mfa;
mod migration;
mod operations;
mod operators;
mod partner;
mod passkeys;
mod passwords;
mod phone;
mod phone_change_use_case;
mod privacy;
mod profile;
mod profile_forms;
mod profile_update;
mod register;
mod routes;
mod seed002;
mod segments;
mod sessions_store;
mod signup;
mod trailing_slash;
mod unknown_routes;
