// Adds toHaveResourceWithProperties & co (what Testing.setupJest() calls), and brings the
// matchers' type declarations (a global `jest.Matchers` augmentation) into the typecheck. Their
// property keys are Terraform's snake_case names. Imported from the adapter's own module, not
// cdktf's index: a test file that synthesizes nothing does not load the whole of cdktf for them.
import { setupJest } from "cdktf/lib/testing/adapters/jest";

setupJest();
