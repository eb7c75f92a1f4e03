import { Testing } from "cdktf";
// Brings the matchers' type declarations (a global `jest.Matchers` augmentation) into the typecheck.
import "cdktf/lib/testing/adapters/jest";

// Adds toHaveResourceWithProperties & co. Their property keys are Terraform's snake_case names.
Testing.setupJest();
