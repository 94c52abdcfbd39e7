fn main() {
    // Only the addon build (feature `node`) links against Node's N-API symbols.
    if std::env::var_os("CARGO_FEATURE_NODE").is_some() {
        napi_build::setup();
    }
}
