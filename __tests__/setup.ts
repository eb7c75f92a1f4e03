import { Testing } from "cdktf";

// Adds toHaveResourceWithProperties & co. Their property keys are Terraform's snake_case names.
Testing.setupJest();
