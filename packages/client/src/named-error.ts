/**
 * Base of the project's typed errors: `name` is the subclass's own class name, so a typed error is declared in one
 * line (`export class StorageError extends NamedError {}`) and its name cannot drift from its class. For Node
 * packages: a minifying bundler would rename the classes (the client's own errors, bundled into the web page, set
 * their names explicitly).
 */
export class NamedError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
