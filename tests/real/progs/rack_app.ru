# rack_app.ru: a tiny Rack application for unicorn (preload_app true): its
# table is built when the master loads it, before the workers fork.
require "digest"
TABLE = Hash[(0...100_000).map { |i| [i, "row-#{i}-" * 8] }]
run lambda { |env|
  case env["PATH_INFO"]
  when "/hello" then [200, { "content-type" => "text/plain" }, ["hello from rack\n"]]
  when "/table"
    body = Digest::MD5.hexdigest((0...100_000).step(7).map { |i| TABLE[i] }.join)
    [200, { "content-type" => "text/plain" }, [body + "\n"]]
  else [404, { "content-type" => "text/plain" }, ["not found\n"]]
  end
}
