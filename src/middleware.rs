//! [`BudgetMiddleware`]: a reqwest-middleware middleware that puts an application's own
//! requests to HelpCrunch through the account's rate budget.

/// Placeholder, replaced by the middleware.
#[derive(Debug, Clone)]
pub struct BudgetMiddleware;
