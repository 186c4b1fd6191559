// The schemas of the tests: the example servers' registration body and an order three levels
// deep. Included (`include!`) by this crate's tests and by the adapters' tests
// (`tests/tests/validate.rs`), so that both check the same types; each includer brings
// `AllowUnknownKeys` into scope.

/// The registration body of the example servers.
#[derive(Debug, serde::Deserialize, garde::Validate)]
struct Register {
    #[garde(ascii, alphanumeric, length(min = 3, max = 20))]
    username: String,
    #[garde(email)]
    email: String,
    #[garde(length(chars, min = 12))]
    password: String,
}

/// Three levels of structs, an array of them, optional and defaulted fields, and an object that
/// may carry keys of its own.
#[derive(Debug, serde::Deserialize, garde::Validate)]
struct Order {
    #[garde(length(min = 1))]
    id: String,
    #[garde(dive)]
    customer: Customer,
    #[garde(dive, length(min = 1))]
    items: Vec<Item>,
    #[garde(skip)]
    note: Option<String>,
    #[serde(default)]
    #[garde(skip)]
    gift: bool,
    #[garde(skip)]
    meta: Option<AllowUnknownKeys<Meta>>,
}

#[derive(Debug, serde::Deserialize, garde::Validate)]
struct Customer {
    #[garde(length(min = 1))]
    name: String,
    #[garde(dive)]
    address: Address,
}

#[derive(Debug, serde::Deserialize, garde::Validate)]
struct Address {
    #[garde(length(min = 2))]
    city: String,
    #[garde(range(min = 1000, max = 99999))]
    zip: u32,
}

#[derive(Debug, serde::Deserialize, garde::Validate)]
struct Item {
    #[garde(length(min = 1, max = 10))]
    name: String,
    #[garde(range(min = 1))]
    qty: u8,
}

/// Where an order came from: a client's metadata, with keys of its own.
#[derive(Debug, serde::Deserialize)]
struct Meta {
    source: String,
}
