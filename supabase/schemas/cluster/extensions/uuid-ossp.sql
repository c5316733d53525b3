create extension "uuid-ossp" schema "extensions";

comment on extension "uuid-ossp" is 'generate universally unique identifiers (UUIDs)';
