//! The HTTP API: routes, auth and ownership, hostile input, the OpenAPI contract, operators.

mod admin;
mod changes;
mod fuzz;
mod hostile;
mod routes;
