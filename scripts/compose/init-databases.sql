-- One database per Sagaway process that owns data (see docs/ARCHITECTURE.md).
-- The postgres image runs this once, when its data directory is first initialised;
-- the tables inside each database belong to the owning service and its migrations.
CREATE DATABASE sagaway_orders;
CREATE DATABASE sagaway_products;
CREATE DATABASE sagaway_users;
CREATE DATABASE sagaway_registry;
