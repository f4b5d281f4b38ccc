# Oracle: Gem::Version#<=>; prints -1/0/1 or E per pair.
require "rubygems"
$stdin.each_line do |line|
  a, b = line.chomp.split("\t", -1)
  begin
    puts(Gem::Version.new(a) <=> Gem::Version.new(b))
  rescue ArgumentError
    puts "E"
  end
end
