"""What monitoring knows of each customer: tier and tenant from onboarding, currency from usage."""
