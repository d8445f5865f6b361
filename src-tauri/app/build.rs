fn main() {
    // tauri-build watches only its default `./capabilities`; with a custom pattern the directory must
    // be named here, or an edited capability is not compiled in until something else reruns this
    // script (the window would keep the permissions of the last full build).
    println!("cargo:rerun-if-changed=src-tauri/app/capabilities");
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/app/capabilities/**/*");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
