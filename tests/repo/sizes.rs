//! The sizes docs/ARCHITECTURE.md promises a reader: no file in `src/` over 600 lines, and no
//! function outside tests over 80, counted from `fn` to its closing brace, so that each reads
//! in a screen or two. Test code (`#[cfg(test)]`, `#[test]`, `tests` files) is not held to it.

use crate::architecture::{is_test_code, is_tests, rust_files, src};
use syn::visit::Visit;

const MAX_FILE_LINES: usize = 600;
const MAX_FUNCTION_LINES: usize = 80;

#[test]
fn no_file_in_src_is_over_600_lines() {
    let long: Vec<String> = rust_files(&src())
        .into_iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            (lines > MAX_FILE_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines: {long:#?}"
    );
}

#[test]
fn no_function_in_src_is_over_80_lines() {
    let mut long = Vec::new();
    for file in rust_files(&src()).into_iter().filter(|f| !is_tests(f)) {
        let source = std::fs::read_to_string(&file).unwrap();
        for (name, lines) in function_lengths(&source) {
            if lines > MAX_FUNCTION_LINES {
                long.push(format!("{}: {name} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines: {long:#?}"
    );
}

/// The measure itself: a function's lines from `fn` to its closing brace, in impls and traits
/// too, test code left out. (Without line numbers in spans every function would measure one
/// line, and the test above would pass whatever the code.)
#[test]
fn the_measure_counts_each_function_from_fn_to_its_brace_and_skips_tests() {
    let source = "
        /// Docs are not counted.
        fn three() {
            let x = 1;
        }
        impl A {
            pub async fn four(&self) -> u8 {
                let y = 2;
                y
            }
        }
        trait B {
            fn two() {
            }
            fn declared();
        }
        #[cfg(test)]
        mod tests {
            fn skipped() {
            }
        }
        #[test]
        fn also_skipped() {}
    ";
    assert_eq!(
        function_lengths(source),
        [("three".into(), 3), ("four".into(), 4), ("two".into(), 2)]
    );
}

/// Each function of `source` outside test code, with its length in lines.
fn function_lengths(source: &str) -> Vec<(String, usize)> {
    let file = syn::parse_file(source).expect("the file parses");
    let mut functions = Functions(Vec::new());
    functions.visit_file(&file);
    functions.0
}

struct Functions(Vec<(String, usize)>);

impl Functions {
    fn measure(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let first = sig.fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        self.0.push((sig.ident.to_string(), last + 1 - first));
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !is_test_code(&module.attrs) {
            syn::visit::visit_item_mod(self, module);
        }
    }

    fn visit_item_impl(&mut self, block: &'ast syn::ItemImpl) {
        if !is_test_code(&block.attrs) {
            syn::visit::visit_item_impl(self, block);
        }
    }

    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        if !is_test_code(&function.attrs) {
            self.measure(&function.sig, &function.block);
            syn::visit::visit_item_fn(self, function);
        }
    }

    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        if !is_test_code(&function.attrs) {
            self.measure(&function.sig, &function.block);
            syn::visit::visit_impl_item_fn(self, function);
        }
    }

    fn visit_trait_item_fn(&mut self, function: &'ast syn::TraitItemFn) {
        if let Some(block) = &function.default {
            self.measure(&function.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, function);
    }
}
